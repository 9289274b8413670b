export * from './vocabulary.js';
export * from './grpc.js';
export * from './oauth-json.js';
