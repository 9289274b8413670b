// The admin RPCs over Connect (the gateway's bridge, gateway/routes/connect.ts) with the generated
// ES types (gen/es), each call carrying `Authorization: Bearer <access token>`. A call refused for
// an expired token (UNAUTHENTICATED) is retried once with a refreshed token.
import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import type { DescService } from '@bufbuild/protobuf';
import { AuditService } from '../../gen/es/authmesh/audit/v1/audit_pb.js';
import { ClientService } from '../../gen/es/authmesh/client/v1/client_pb.js';
import { KeyService } from '../../gen/es/authmesh/key/v1/key_pb.js';
import { RefreshTokenService } from '../../gen/es/authmesh/refresh_token/v1/refresh_token_pb.js';
import { ServiceRegistryService } from '../../gen/es/authmesh/service/v1/service_pb.js';
import { UserService } from '../../gen/es/authmesh/user/v1/user_pb.js';
import { ErrorInfoSchema } from '../../gen/es/google/rpc/error_details_pb.js';
import { accessToken } from './auth.js';
import { describeError, type ShownError } from './errors.js';

const bearer: Interceptor = (next) => async (req) => {
  const token = await accessToken();
  if (token) req.header.set('authorization', `Bearer ${token}`);
  try {
    return await next(req);
  } catch (err) {
    if (ConnectError.from(err).code !== Code.Unauthenticated) throw err;
    const fresh = await accessToken(true);
    if (!fresh) throw err;
    req.header.set('authorization', `Bearer ${fresh}`);
    return await next(req);
  }
};

const transport = createConnectTransport({
  baseUrl: window.location.origin,
  interceptors: [bearer],
  // The bridge refuses unknown JSON fields; JSON keeps the calls readable in the browser's tools.
  useBinaryFormat: false,
  fetch: (input, init) => globalThis.fetch(input, { ...init, credentials: 'omit' }),
});

const client = <T extends DescService>(service: T): Client<T> => createClient(service, transport);

export const api = {
  clients: client(ClientService),
  users: client(UserService),
  refreshTokens: client(RefreshTokenService),
  services: client(ServiceRegistryService),
  keys: client(KeyService),
  audit: client(AuditService),
};

/** The plain-words form of anything a call threw (errors.ts). */
export function shownError(err: unknown): ShownError {
  const e = ConnectError.from(err);
  const info = e.findDetails(ErrorInfoSchema)[0];
  const reason = info?.reason ?? (e.code === Code.Unauthenticated ? 'INVALID_TOKEN' : e.code === Code.PermissionDenied ? 'INSUFFICIENT_SCOPE' : '');
  return describeError(reason, e.rawMessage);
}
