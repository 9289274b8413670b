// Which address the audit trail records for a gRPC call (issue 11 item 14).
import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/support/thrown.js';
import { auditedAddress, peerIp } from './caller-address.js';

describe('peerIp reads grpc-js peer strings', () => {
  it.each([
    ['127.0.0.1:5000', '127.0.0.1'],
    ['::1:5000', '::1'],
    ['::ffff:127.0.0.1:5000', '::ffff:127.0.0.1'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    ['10.0.0.1', '10.0.0.1'],
    ['unix:/tmp/sock', ''],
    ['', ''],
  ])('%j → %j', (peer, ip) => {
    expect(peerIp(peer)).toBe(ip);
  });
});

describe('auditedAddress believes remote_ip only from the mesh', () => {
  const mesh = { principal: { kind: 'mesh' as const }, peer: '127.0.0.1:5000' };
  const stranger = { principal: { kind: 'anonymous' as const }, peer: '192.0.2.1:6000' };

  it('records the peer address of a caller that is not the mesh, whatever it claims', () => {
    expect(auditedAddress(stranger, '203.0.113.5')).toBe('192.0.2.1');
    expect(auditedAddress(stranger, 'x'.repeat(3000))).toBe('192.0.2.1');
  });

  it('records the address the mesh relays, and refuses one that is not an IP', () => {
    expect(auditedAddress(mesh, '203.0.113.5')).toBe('203.0.113.5');
    expect(auditedAddress(mesh, '2001:db8::7')).toBe('2001:db8::7');
    expect(auditedAddress(mesh, '')).toBe('');
    expect(thrown(() => auditedAddress(mesh, 'x'.repeat(3000)))).toMatchObject({ code: 'invalid_request' });
    expect(thrown(() => auditedAddress(mesh, '203.0.113.5, 10.0.0.1'))).toMatchObject({ code: 'invalid_request' });
  });
});
