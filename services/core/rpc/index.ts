export * from './context.js';
export * from './handler.js';
export * from './server.js';
export * from './client.js';
export * from './paths.js';
export * from './access-token-verifier.js';
export * from './mesh-authenticator.js';
export * from './update-mask.js';
