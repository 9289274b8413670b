// The page shown instead of redirecting when the client or its redirect URI cannot be trusted
// (RFC 6749 §4.1.2.1), and for refused forms.
import type { FastifyReply } from 'fastify';
import { html, sendPage } from './html.js';

export interface ErrorPageInput {
  title: string;
  /** An RFC 6749 error code, shown for whoever debugs the client. */
  error: string;
  description: string;
}

export function sendErrorPage(reply: FastifyReply, status: number, { title, error, description }: ErrorPageInput): FastifyReply {
  const body = html`<header class="brand"><p class="service">authmesh</p></header>
<h1>${title}</h1>
<div class="alert" role="alert"><p>${description}</p></div>
<p class="muted">Error code: <code>${error}</code>. You can close this page and go back to the application.</p>`;
  return sendPage(reply, status, { title, body });
}
