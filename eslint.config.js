import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'build/', 'gen/', 'dist/', 'data/', 'clients/**/gen/', '.tools/', '.stack/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', AbortController: 'readonly', structuredClone: 'readonly', fetch: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always'],
      'no-console': ['error', { allow: ['error', 'warn'] }],
    },
  },
  {
    // DESIGN.md: OAuth rules live once, in services/core/oauth, with no I/O. Only the error
    // vocabulary, jose's pure helpers and node:crypto are allowed there.
    files: ['services/core/oauth/**/*.ts'],
    ignores: ['services/core/oauth/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/store/**', '**/store', '**/grid/**', '**/grid', '**/rpc/**', '**/rpc'], message: 'core/oauth holds pure rules: no storage, grid or transport imports.' },
            { group: ['**/gen/**', '@grpc/*', '@connectrpc/*', 'pg', 'mysql2', 'hazelcast-client', '@electric-sql/*'], message: 'core/oauth holds pure rules: no transport, storage or grid code.' },
            { group: ['node:fs', 'node:fs/*', 'node:net', 'node:http', 'node:http2', 'node:child_process', 'fs', 'net', 'http', 'http2'], message: 'core/oauth does no I/O.' },
          ],
        },
      ],
    },
  },
  {
    files: ['scripts/**/*.mjs', 'bench/**/*.{ts,mjs}', 'test/**/*.ts', 'services/main.ts'],
    rules: { 'no-console': 'off' },
  },
);
