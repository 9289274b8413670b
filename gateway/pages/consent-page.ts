// The consent page: which client asks for which scopes, Allow or Deny. The OpenID Connect claim
// groups (OIDC Core §5.4: profile, email, phone, address) are described in plain words, each in
// its own list item, so the user sees what personal information the client will receive.
import type { FastifyReply } from 'fastify';
import { CLAIM_SCOPES, type ClaimScope } from '../../services/core/oauth/index.js';
import { clientBrand, type ClientDisplay } from './client-brand.js';
import { html, sendPage, type SafeHtml } from './html.js';

/** What each claim group releases, as the consent page says it (OIDC Core §5.4). */
export const CLAIM_GROUP_WORDS: Readonly<Record<ClaimScope, { title: string; detail: string }>> = {
  profile: { title: 'Your profile', detail: 'name, username, nickname, picture, website, gender, birthdate, time zone and language' },
  email: { title: 'Your email address', detail: 'and whether it has been verified' },
  phone: { title: 'Your phone number', detail: 'and whether it has been verified' },
  address: { title: 'Your postal address', detail: 'street, city, region, postal code and country' },
};

/** The list of claim groups among `scopes` (none without openid, OIDC Core §3.1.2.1), or undefined. */
export function claimGroupsSection(scopes: readonly string[]): SafeHtml | undefined {
  if (!scopes.includes('openid')) return undefined;
  const groups = CLAIM_SCOPES.filter((g) => scopes.includes(g));
  if (groups.length === 0) return undefined;
  return html`<p id="claims-label">It will receive this information about you:</p>
<ul class="claims" aria-labelledby="claims-label">${groups.map((g) => html`<li data-claim-group="${g}"><strong>${CLAIM_GROUP_WORDS[g].title}</strong>: ${CLAIM_GROUP_WORDS[g].detail}</li>`)}</ul>`;
}

/** One API the request asks for (RFC 8707 §2.1): its audience and the registered service's name. */
export interface ConsentResource {
  resource: string;
  /** The service's display name; '' for this server's own API. */
  name: string;
}

/** The list of APIs the client will reach with the tokens (RFC 8707 §2.1), or undefined when it named none. */
export function resourcesSection(resources: readonly ConsentResource[]): SafeHtml | undefined {
  if (resources.length === 0) return undefined;
  return html`<p id="resources-label">Only at these APIs:</p>
<ul class="resources" aria-labelledby="resources-label">${resources.map(
    (r) => html`<li data-resource="${r.resource}"><strong>${r.name || 'This sign-in service (your account settings)'}</strong> <span class="muted">(<code>${r.resource}</code>)</span></li>`,
  )}</ul>`;
}

export interface ConsentPageInput {
  client: ClientDisplay;
  scopes: readonly string[];
  csrfToken: string;
  pending: string;
  /** Whether "remember this decision" is offered (never for public clients, RFC 8252 §8.6). */
  rememberable: boolean;
  /** RFC 8707 §2.1: the APIs the request named; absent or empty when it named none. */
  resources?: readonly ConsentResource[] | undefined;
}

export function sendConsentPage(reply: FastifyReply, input: ConsentPageInput): FastifyReply {
  const brand = clientBrand(input.client);
  const name = input.client.clientName || input.client.clientId;
  const claims = claimGroupsSection(input.scopes);
  // The claim groups are said in words above; the other scopes are listed as they are named.
  const others = claims === undefined ? input.scopes : input.scopes.filter((s) => !(CLAIM_SCOPES as readonly string[]).includes(s));
  const scopes =
    others.length === 0
      ? claims === undefined
        ? html`<p>It asks for no specific permissions.</p>`
        : undefined
      : html`<p id="scopes-label">It asks for these permissions:</p>
<ul class="scopes" aria-labelledby="scopes-label">${others.map((s) => html`<li>${s}</li>`)}</ul>`;
  const body = html`${brand.header}
<h1>Allow access?</h1>
<p><span class="client">${name}</span> <span class="muted">(<code>${input.client.clientId}</code>)</span> wants to access your account.</p>
${claims}
${scopes}
${resourcesSection(input.resources ?? [])}
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
