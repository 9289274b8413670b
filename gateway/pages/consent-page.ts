// The consent page: which client asks for which scopes, Allow or Deny.
import type { FastifyReply } from 'fastify';
import { clientBrand, type ClientDisplay } from './client-brand.js';
import { html, sendPage } from './html.js';

export interface ConsentPageInput {
  client: ClientDisplay;
  scopes: readonly string[];
  csrfToken: string;
  pending: string;
  /** Whether "remember this decision" is offered (never for public clients, RFC 8252 §8.6). */
  rememberable: boolean;
}

export function sendConsentPage(reply: FastifyReply, input: ConsentPageInput): FastifyReply {
  const brand = clientBrand(input.client);
  const name = input.client.clientName || input.client.clientId;
  const scopes =
    input.scopes.length === 0
      ? html`<p>It asks for no specific permissions.</p>`
      : html`<p id="scopes-label">It asks for these permissions:</p>
<ul class="scopes" aria-labelledby="scopes-label">${input.scopes.map((s) => html`<li>${s}</li>`)}</ul>`;
  const body = html`${brand.header}
<h1>Allow access?</h1>
<p><span class="client">${name}</span> <span class="muted">(<code>${input.client.clientId}</code>)</span> wants to access your account.</p>
${scopes}
<form method="post" action="/oauth2/consent">
<input type="hidden" name="csrf_token" value="${input.csrfToken}">
<input type="hidden" name="authorization_request" value="${input.pending}">
${
    input.rememberable
      ? html`<label class="check"><input type="checkbox" name="remember" value="on" checked> Remember this decision</label>`
      : html`<p class="muted">This application cannot prove its identity, so you will be asked each time.</p>`
  }
<div class="actions">
<button type="submit" name="decision" value="allow" class="primary">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</div>
</form>
<form method="post" action="/oauth2/logout" class="switch">
<input type="hidden" name="csrf_token" value="${input.csrfToken}">
<input type="hidden" name="authorization_request" value="${input.pending}">
<button type="submit" class="link">Use another account</button>
</form>`;
  return sendPage(reply, 200, { title: `Allow ${name}?`, body, imageOrigin: brand.imageOrigin });
}
