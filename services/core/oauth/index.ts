// Pure OAuth rules of authmesh: no I/O, only the error vocabulary, node:crypto and jose types.
export * from './access-token-claims.js';
export * from './authorization-request.js';
export * from './authorization-response.js';
export * from './client-policy.js';
export * from './introspection.js';
export * from './pkce.js';
export * from './redirect-uri.js';
export * from './scope.js';
export * from './secrets.js';
export * from './token-exchange.js';
export * from './resource-indicator.js';
export * from './endpoint-match.js';
export * from './bearer.js';
export * from './response-types.js';
export * from './oidc-logout.js';
