// Refresh tokens for the refresh-rotation row. With rotation every answer carries the next token
// and the one sent is spent, so each request takes a token from a shared pool and each 200 answer
// puts its new token back. The chained load (bench/http-chain-load.ts) never abandons a request
// in flight, so the pool keeps its size across rounds and is filled once; a failed request loses
// its token, and `prepare` tops the pool up again.

export class RefreshPool {
  private tokens: string[] = [];

  /** How many unspent tokens are in the pool. */
  get size(): number {
    return this.tokens.length;
  }

  add(tokens: readonly string[]): void {
    this.tokens.push(...tokens);
  }

  /** An RFC 6749 §6 refresh request body with a token from the pool, or undefined when empty. */
  next(): string | undefined {
    const token = this.tokens.pop();
    return token === undefined ? undefined : `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`;
  }

  /** Takes the rotated refresh token out of a 200 token response. */
  onResponse(status: number, body: string): void {
    if (status !== 200) return;
    try {
      const next = (JSON.parse(body) as { refresh_token?: unknown }).refresh_token;
      if (typeof next === 'string' && next !== '') this.tokens.push(next);
    } catch {
      // not JSON: no token to keep
    }
  }
}
