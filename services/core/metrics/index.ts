export * from './metrics.js';
export * from './instrument.js';
export * from './listener.js';
