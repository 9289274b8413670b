export * from './context.js';
export * from './handler.js';
export * from './server.js';
export * from './client.js';
export * from './paths.js';
