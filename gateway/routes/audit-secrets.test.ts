// The audit trail never stores a secret sent in the client_id's place (issue 11 item 11, DESIGN §6):
// a failed client authentication names the client only when the id is a registered client's, so
// Basic with id and secret swapped, or client_secret_post with them swapped, leaves no secret in
// audit_events (found by the outside review after the request log was fixed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { basicAuth, createFixtures, postForm, type Fixtures } from './route-test-support.js';

describe('the audit trail of failed client authentication', () => {
  let t: TestGateway;
  let f: Fixtures;

  beforeAll(async () => {
    t = await startTestGateway();
    f = await createFixtures(t);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  async function auditText(): Promise<string> {
    await t.mesh.flushAudit();
    return JSON.stringify((await t.store.audit.list({ pageSize: 1000 })).items);
  }

  it('Basic credentials with id and secret swapped: 401, and the secret is nowhere in the audit trail', async () => {
    const res = await postForm(`${t.baseUrl}/oauth2/token`, 'grant_type=client_credentials', { authorization: basicAuth(f.basic.secret, f.basic.id) });
    expect(res.status).toBe(401);
    expect(await auditText()).not.toContain(f.basic.secret);
  });

  it('client_secret_post with client_id and client_secret swapped: the same', async () => {
    const body = `grant_type=client_credentials&client_id=${encodeURIComponent(f.post.secret)}&client_secret=${encodeURIComponent(f.post.id)}`;
    const res = await postForm(`${t.baseUrl}/oauth2/token`, body);
    expect(res.status).toBe(401);
    expect(await auditText()).not.toContain(f.post.secret);
  });

  it('still names a registered client whose authentication failed', async () => {
    const res = await postForm(`${t.baseUrl}/oauth2/token`, 'grant_type=client_credentials', { authorization: basicAuth(f.basic.id, 'x'.repeat(43)) });
    expect(res.status).toBe(401);
    await t.mesh.flushAudit();
    const failed = (await t.store.audit.list({ type: 'client.auth_failed', pageSize: 1000 })).items;
    expect(failed.some((e) => e.clientId === f.basic.id)).toBe(true);
  });
});
