// grid-contract.ts is deliberately not re-exported: it imports vitest.
export * from './grid.js';
export * from './memory-grid.js';
export * from './read-through.js';
export * from './grid-from-config.js';
