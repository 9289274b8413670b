// The pages of the device verification URI (RFC 8628 §3.3): enter the code shown on the device,
// approve or deny what the device asks for, and the outcome. The approval page says plainly to
// compare the code with the device's screen and to deny a code someone else sent (RFC 8628 §5.4
// remote phishing: an attacker starts a device flow and tricks a user into approving it).
import type { FastifyReply } from 'fastify';
import { CLAIM_SCOPES } from '../../services/core/oauth/index.js';
import { clientBrand, type ClientDisplay } from './client-brand.js';
import { claimGroupsSection, type ConsentResource, resourcesSection } from './consent-page.js';
import { html, sendPage } from './html.js';

export const DEVICE_PATH = '/oauth2/device';
export const DEVICE_LOGIN_PATH = '/oauth2/device/login';
export const DEVICE_DECISION_PATH = '/oauth2/device/decision';

const serviceHeader = html`<header class="brand"><p class="service">authmesh</p></header>`;

export interface DeviceCodePageInput {
  csrfToken: string;
  /** The code to prefill (from verification_uri_complete or a previous attempt). */
  userCode?: string | undefined;
  error?: string | undefined;
}

/** RFC 8628 §3.3: the user enters the code shown on the device. */
export function sendDeviceCodePage(reply: FastifyReply, status: number, input: DeviceCodePageInput): FastifyReply {
  const body = html`${serviceHeader}
<h1 id="title">Connect a device</h1>
<p>Enter the code shown on your device.</p>
${input.error ? html`<div class="alert" role="alert" id="code-error">${input.error}</div>` : undefined}
<form method="post" action="${DEVICE_PATH}" aria-labelledby="title"${input.error ? html` aria-describedby="code-error"` : undefined}>
<input type="hidden" name="csrf_token" value="${input.csrfToken}">
<label for="user_code">Code</label>
<input type="text" id="user_code" name="user_code" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" required maxlength="64" placeholder="XXXX-XXXX" value="${input.userCode ?? ''}" autofocus>
<button type="submit" class="primary">Continue</button>
</form>`;
  return sendPage(reply, status, { title: 'Connect a device', body });
}

export interface DeviceConsentPageInput {
  client: ClientDisplay;
  /** As shown on the device: XXXX-XXXX. */
  userCode: string;
  scopes: readonly string[];
  csrfToken: string;
  /** Who is signed in, so the user knows which account the device will use. */
  account: string;
  /** RFC 8707 §2.1: the APIs the device asked for; absent or empty when it named none. */
  resources?: readonly ConsentResource[] | undefined;
}

/** RFC 8628 §3.3, §5.4: the client, the scopes, the code to compare, Approve or Deny. */
export function sendDeviceConsentPage(reply: FastifyReply, input: DeviceConsentPageInput): FastifyReply {
  const brand = clientBrand(input.client);
  const name = input.client.clientName || input.client.clientId;
  const claims = claimGroupsSection(input.scopes);
  const others = input.scopes.filter((s) => claims === undefined || !(CLAIM_SCOPES as readonly string[]).includes(s));
  const scopes =
    others.length === 0
      ? claims === undefined
        ? html`<p>It asks for no specific permissions.</p>`
        : undefined
      : html`<p id="scopes-label">It asks for these permissions:</p>
<ul class="scopes" aria-labelledby="scopes-label">${others.map((s) => html`<li>${s}</li>`)}</ul>`;
  const body = html`${brand.header}
<h1>Allow a device to use your account?</h1>
<p>A device running <span class="client">${name}</span> <span class="muted">(<code>${input.client.clientId}</code>)</span> wants to access the account of <strong>${input.account}</strong>.</p>
<div class="alert" role="note" id="device-check"><p>Check that your device shows the code <strong><code id="device-user-code">${input.userCode}</code></strong>.</p>
<p>Only allow this if you started the sign-in on a device you have in front of you. If someone sent you this code or asked you to enter it, choose Deny: they are trying to get into your account.</p></div>
${claims}
${scopes}
${resourcesSection(input.resources ?? [])}
<form method="post" action="${DEVICE_DECISION_PATH}" aria-describedby="device-check">
<input type="hidden" name="csrf_token" value="${input.csrfToken}">
<input type="hidden" name="user_code" value="${input.userCode}">
<input type="hidden" name="scope" value="${input.scopes.join(' ')}">
<div class="actions">
<button type="submit" name="decision" value="allow" class="primary">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</div>
</form>
<form method="post" action="/oauth2/logout" class="switch">
<input type="hidden" name="csrf_token" value="${input.csrfToken}">
<button type="submit" class="link">Not ${input.account}? Sign out</button>
</form>`;
  return sendPage(reply, 200, { title: `Allow ${name}?`, body, imageOrigin: brand.imageOrigin });
}

/** The outcome: the device gets its tokens on its next poll, or access_denied. */
export function sendDeviceDonePage(reply: FastifyReply, approved: boolean): FastifyReply {
  const body = approved
    ? html`${serviceHeader}
<h1 id="device-done">Device connected</h1>
<p>You can return to your device: it will continue in a few seconds. You can close this page.</p>`
    : html`${serviceHeader}
<h1 id="device-done">Access denied</h1>
<p>The device was not given access to your account. You can close this page.</p>`;
  return sendPage(reply, 200, { title: approved ? 'Device connected' : 'Access denied', body });
}
