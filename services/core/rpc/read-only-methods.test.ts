// Which RPCs peers retry on another instance (client.ts READ_ONLY_METHODS): every method of the
// protos named like a read is decided one by one, so a new one with a side effect is never retried
// by its name alone (review 10 F3: LookupDeviceAuthorization counts wrong user codes).
import { describe, expect, it } from 'vitest';
import { AuditServiceService } from '../../../gen/ts/authmesh/audit/v1/audit.js';
import { ClientServiceService } from '../../../gen/ts/authmesh/client/v1/client.js';
import { CodeServiceService } from '../../../gen/ts/authmesh/code/v1/code.js';
import { KeyServiceService } from '../../../gen/ts/authmesh/key/v1/key.js';
import { RefreshTokenServiceService } from '../../../gen/ts/authmesh/refresh_token/v1/refresh_token.js';
import { ServiceRegistryServiceService } from '../../../gen/ts/authmesh/service/v1/service.js';
import { TokenServiceService } from '../../../gen/ts/authmesh/token/v1/token.js';
import { UserServiceService } from '../../../gen/ts/authmesh/user/v1/user.js';
import { NOT_READ_ONLY_METHODS, peerServiceConfig, READ_ONLY_METHODS } from './client.js';

const SERVICES = [AuditServiceService, ClientServiceService, CodeServiceService, KeyServiceService, RefreshTokenServiceService, ServiceRegistryServiceService, TokenServiceService, UserServiceService];
const methods = SERVICES.flatMap((s) => Object.values(s).map((m) => m.path.slice(m.path.lastIndexOf('/') + 1)));

describe('read-only RPCs, retried by peers on another instance', () => {
  it('decides every method named like a read, one by one', () => {
    const readLike = methods.filter((m) => /^(Get|List|Lookup|Introspect|Check|Describe|Find|Search)/.test(m));
    const undecided = readLike.filter((m) => !READ_ONLY_METHODS.has(m) && !NOT_READ_ONLY_METHODS.has(m));
    expect(undecided, 'add each to READ_ONLY_METHODS (no side effect) or NOT_READ_ONLY_METHODS (client.ts)').toEqual([]);
    // Every listed name is a real method.
    for (const m of [...READ_ONLY_METHODS, ...NOT_READ_ONLY_METHODS]) expect(methods).toContain(m);
  });

  it('never retries LookupDeviceAuthorization, which counts wrong user codes', () => {
    const config = peerServiceConfig(TokenServiceService, 'authmesh.token.v1.TokenService') as { methodConfig: { name: { method: string }[] }[] };
    const retried = config.methodConfig.flatMap((c) => c.name.map((n) => n.method));
    expect(retried).toContain('IntrospectToken');
    expect(retried).not.toContain('LookupDeviceAuthorization');
  });
});
