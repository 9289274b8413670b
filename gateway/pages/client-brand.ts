// The client's name and logo at the top of the login and consent pages.
import { html, type SafeHtml } from './html.js';

export interface ClientDisplay {
  clientId: string;
  clientName: string;
  logoUri: string;
}

/** The header, and the image origin the page's CSP must allow (only https logos are shown). */
export function clientBrand(client: ClientDisplay): { header: SafeHtml; imageOrigin: string | undefined } {
  let logo: URL | undefined;
  try {
    logo = client.logoUri ? new URL(client.logoUri) : undefined;
  } catch {
    logo = undefined;
  }
  // A logo over http could be swapped in transit and would make the page mixed content.
  if (logo !== undefined && logo.protocol !== 'https:') logo = undefined;
  const header = html`<header class="brand">
${logo ? html`<img src="${logo.href}" alt="" width="48" height="48">` : undefined}
<p class="service">authmesh</p>
</header>`;
  return { header, imageOrigin: logo?.origin };
}
