// The HTML shell of the gateway's pages (login, consent, errors): an escaper, one layout, one
// stylesheet inlined under a CSP hash, and the security headers every page carries.
import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

/** A fragment already escaped; produced only by `html` and the page builders. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Interpolation = string | number | SafeHtml | ReadonlyArray<SafeHtml> | undefined | null | false;

/** Tagged template: every interpolated string is escaped; SafeHtml (and arrays of it) is kept. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    if (v instanceof SafeHtml) out += v.value;
    else if (Array.isArray(v)) out += v.map((x: SafeHtml) => x.value).join('');
    else if (v !== undefined && v !== null && v !== false) out += escapeHtml(String(v));
    out += strings[i + 1] ?? '';
  });
  return new SafeHtml(out);
}

// Colours keep a contrast ratio above 7:1 for text (WCAG AAA) and 4.5:1 for the buttons' labels.
const STYLESHEET = `
*,*::before,*::after{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-size:100%;line-height:1.5;color:#1a1f2b;background:#eef1f6}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:1.5rem}
main{width:100%;max-width:26rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(16,24,40,.12),0 8px 24px rgba(16,24,40,.08);padding:2rem}
header.brand{display:flex;align-items:center;gap:.75rem;margin-bottom:1.25rem}
header.brand img{width:48px;height:48px;border-radius:8px;object-fit:contain;background:#f3f5f9}
.service{font-size:.8125rem;letter-spacing:.04em;text-transform:uppercase;color:#4a5468;margin:0}
h1{font-size:1.375rem;line-height:1.3;margin:0 0 .5rem}
p{margin:0 0 1rem}
.client{font-weight:600}
label{display:block;font-weight:600;margin:0 0 .25rem}
input[type=text],input[type=password]{display:block;width:100%;font:inherit;padding:.625rem .75rem;border:1px solid #6b7485;border-radius:8px;margin-bottom:1rem;color:inherit;background:#fff}
input[type=text]:focus,input[type=password]:focus{outline:3px solid #9bbcf5;outline-offset:1px;border-color:#1d4fbf}
.check{display:flex;gap:.5rem;align-items:center;font-weight:400;margin:0 0 1.25rem}
.check input{width:1.125rem;height:1.125rem;margin:0}
button{font:inherit;font-weight:600;padding:.625rem 1rem;border-radius:8px;border:1px solid transparent;cursor:pointer;width:100%}
button:focus-visible{outline:3px solid #9bbcf5;outline-offset:2px}
.primary{background:#1d4fbf;color:#fff}
.primary:hover{background:#173f99}
.secondary{background:#fff;color:#1a1f2b;border-color:#6b7485}
.secondary:hover{background:#f3f5f9}
.actions{display:flex;gap:.75rem;flex-direction:row-reverse}
.switch{margin-top:1rem;text-align:center}
.link{background:none;border:0;width:auto;padding:.25rem;color:#1d4fbf;text-decoration:underline;font-weight:400}
.scopes{list-style:none;padding:0;margin:0 0 1.25rem;border:1px solid #d5dae3;border-radius:8px}
.scopes li{padding:.625rem .75rem;border-top:1px solid #d5dae3;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9375rem}
.scopes li:first-child{border-top:0}
.alert{border-left:4px solid #b42318;background:#fef3f2;color:#7a1a12;padding:.75rem 1rem;border-radius:4px;margin-bottom:1rem}
.muted{color:#4a5468;font-size:.875rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
`.trim();

const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLESHEET).digest('base64')}'`;

export interface PageOptions {
  title: string;
  body: SafeHtml;
  /** An https image origin the page shows (a client's logo); images are blocked otherwise. */
  imageOrigin?: string | undefined;
}

/** Sends a complete page with the headers every page needs (RFC 9700 §4.16 clickjacking, no caching of pages with tokens). */
export function sendPage(reply: FastifyReply, status: number, { title, body, imageOrigin }: PageOptions): FastifyReply {
  const csp = [
    "default-src 'none'",
    `style-src ${STYLE_HASH}`,
    `img-src ${imageOrigin ?? "'none'"}`,
    "form-action 'self'",
    // RFC 9700 §4.16: the pages must not be framed (clickjacking).
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>${new SafeHtml(STYLESHEET)}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', csp)
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .send(page.value);
}
