// The login page of the authorization endpoint.
import type { FastifyReply } from 'fastify';
import { html, sendPage } from './html.js';
import { clientBrand, type ClientDisplay } from './client-brand.js';

export interface LoginPageInput {
  client: ClientDisplay;
  csrfToken: string;
  /** The signed pending authorization request (see gateway/pending-authorization.ts). */
  pending: string;
  username?: string | undefined;
  error?: string | undefined;
  /** Accounts signed in with this browser, offered by the account chooser (none: no chooser). */
  accounts?: readonly ChooserAccount[];
  /**
   * Where the sign-in form posts and the hidden fields it carries besides csrf_token, for a flow
   * other than the authorization endpoint's (the device verification page); default
   * /oauth2/login with the pending authorization request.
   */
  form?: { action: string; fields: ReadonlyArray<readonly [string, string]> };
}

export interface ChooserAccount {
  /** The session's public id (never the secret session id). */
  sid: string;
  /** What the user recognizes: display name and username. */
  label: string;
  username: string;
}

export function sendLoginPage(reply: FastifyReply, status: number, input: LoginPageInput): FastifyReply {
  const brand = clientBrand(input.client);
  const accounts = input.accounts ?? [];
  const chooser =
    accounts.length === 0
      ? undefined
      : html`<section aria-labelledby="choose-title">
<h2 id="choose-title">Choose an account</h2>
<ul class="accounts">
${accounts.map(
  (a) => html`<li><form method="post" action="/oauth2/select_account">
<input type="hidden" name="csrf_token" value="${input.csrfToken}">
<input type="hidden" name="authorization_request" value="${input.pending}">
<input type="hidden" name="account" value="${a.sid}">
<button type="submit">Continue as ${a.label}${a.label !== a.username ? html` (${a.username})` : undefined}</button>
</form></li>`,
)}
</ul>
<h2 id="another-title">Use another account</h2>
</section>`;
  const body = html`${brand.header}
<h1 id="title">Sign in</h1>
<p>to continue to <span class="client">${input.client.clientName || input.client.clientId}</span></p>
${chooser}
${input.error ? html`<div class="alert" role="alert" id="login-error">${input.error}</div>` : undefined}
<form method="post" action="${input.form?.action ?? '/oauth2/login'}" aria-labelledby="title"${input.error ? html` aria-describedby="login-error"` : undefined}>
<input type="hidden" name="csrf_token" value="${input.csrfToken}">
${(input.form?.fields ?? [['authorization_request', input.pending] as const]).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required maxlength="128" value="${input.username ?? ''}"${input.username ? undefined : html` autofocus`}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required maxlength="1024"${input.username ? html` autofocus` : undefined}>
<button type="submit" class="primary">Sign in</button>
</form>`;
  return sendPage(reply, status, { title: 'Sign in', body, imageOrigin: brand.imageOrigin });
}
