// AUTHMESH_PAR_TTL_SECONDS and AUTHMESH_PAR_REQUIRED (issue 15, RFC 9126): defaults and refusals.
import { describe, expect, it } from 'vitest';
import { loadConfig } from './index.js';
import { configProblems } from '../../../test/support/config.js';

describe('pushed authorization request configuration', () => {
  it('keeps a request_uri 60 seconds and does not require PAR by default', () => {
    const config = loadConfig({});
    expect(config.parTtlSeconds).toBe(60);
    expect(config.parRequired).toBe(false);
  });

  it('takes a lifetime from 5 to 600 seconds and PAR required', () => {
    expect(loadConfig({ AUTHMESH_PAR_TTL_SECONDS: '5' }).parTtlSeconds).toBe(5);
    expect(loadConfig({ AUTHMESH_PAR_TTL_SECONDS: '600' }).parTtlSeconds).toBe(600);
    expect(loadConfig({ AUTHMESH_PAR_REQUIRED: 'true' }).parRequired).toBe(true);
  });

  it.each(['4', '601', '1m', '-5'])('refuses AUTHMESH_PAR_TTL_SECONDS=%j with a clear message', (value) => {
    expect(configProblems({ AUTHMESH_PAR_TTL_SECONDS: value })).toStrictEqual([`AUTHMESH_PAR_TTL_SECONDS=${JSON.stringify(value)}: expected a whole number from 5 to 600`]);
  });

  it('refuses AUTHMESH_PAR_REQUIRED=maybe with a clear message', () => {
    expect(configProblems({ AUTHMESH_PAR_REQUIRED: 'maybe' })).toStrictEqual(['AUTHMESH_PAR_REQUIRED="maybe": expected true or false']);
  });
});
