// gRPC adapter of the client registry: maps between the proto contract and the ClientManager.
import {
  AuthenticateClientResponse,
  AuthorizeRegistrationResponse,
  Client as ClientMessage,
  ClientServiceService,
  ClientType,
  CreateClientResponse,
  DeleteClientResponse,
  DeleteRegistrationResponse,
  GetClientResponse,
  ListClientsResponse,
  RotateClientSecretResponse,
  UpdateClientResponse,
  UpdateRegistrationResponse,
  type ClientCredentials,
} from '../../gen/ts/authmesh/client/v1/client.js';
import { InvalidRequest } from '../core/errors/index.js';
import { ADMIN_READ, ADMIN_READ_OR_MESH, ADMIN_WRITE, INTERNAL, registration, type CallContext } from '../core/rpc/index.js';
import { authMethodOf, draftFromMessage, fieldsOfMask, toClientMessage } from './client-mapping.js';
import type { ClientManager, PresentedCredentials } from './client-manager.js';

export const CLIENT_SERVICE_NAME = 'authmesh.client.v1.ClientService';

export function actorOf(ctx: CallContext): string {
  return ctx.principal.kind === 'token' ? ctx.principal.subject : ctx.principal.kind;
}

function presented(c: ClientCredentials | undefined): PresentedCredentials | undefined {
  const cred = c?.credential;
  switch (cred?.$case) {
    case 'clientSecret': {
      let method: string;
      try {
        method = authMethodOf(cred.value.method);
      } catch {
        method = '';
      }
      return { kind: 'secret', clientId: cred.value.clientId, clientSecret: cred.value.clientSecret, method };
    }
    case 'clientAssertion':
      return { kind: 'assertion', ...cred.value };
    case 'clientId':
      return { kind: 'client_id', clientId: cred.value };
    case 'mutualTls':
      return { kind: 'mutual_tls', clientId: cred.value.clientId, certificate: Buffer.from(cred.value.certificate?.certificate ?? []), chain: (cred.value.certificate?.chain ?? []).map((c) => Buffer.from(c)) };
    default:
      return undefined;
  }
}

export function createClientServiceRegistration(clients: ClientManager) {
  return registration(
    CLIENT_SERVICE_NAME,
    ClientServiceService,
    {
      async createClient(req, ctx) {
        if (!req.client) throw new InvalidRequest('client is required');
        // proto3 cannot tell an unset require_pkce from false, so a new client always starts with
        // PKCE required (RFC 9700 §2.1.1); UpdateClient may turn it off for a confidential client.
        const draft = { ...draftFromMessage(req.client), requirePkce: true };
        const { client, clientSecret, registrationAccessToken } = await clients.create(req.client.clientId, draft, {
          actor: actorOf(ctx),
          issueRegistrationToken: req.issueRegistrationAccessToken === true,
        });
        return CreateClientResponse.fromPartial({
          client: toClientMessage(client),
          clientSecret: clientSecret ?? '',
          registrationAccessToken: registrationAccessToken ?? '',
        });
      },
      async getClient(req) {
        if (!req.clientId) throw new InvalidRequest('client_id is required');
        return GetClientResponse.fromPartial({ client: toClientMessage(await clients.get(req.clientId)) });
      },
      async listClients(req) {
        if (req.pageSize < 0 || req.pageSize > 1000) throw new InvalidRequest('page_size must be 1 to 1000 (0 for the default of 50)');
        const page = await clients.list({ pageSize: req.pageSize, pageToken: req.pageToken });
        return ListClientsResponse.fromPartial({ clients: page.items.map(toClientMessage), nextPageToken: page.nextPageToken });
      },
      async updateClient(req, ctx) {
        if (!req.client) throw new InvalidRequest('client is required');
        if (!req.client.clientId) throw new InvalidRequest('client.client_id is required');
        const fields = fieldsOfMask(req.updateMask);
        const updated = await clients.update(req.client.clientId, draftFromMessage(req.client), fields, req.client.etag, actorOf(ctx), {
          issueRegistrationToken: req.issueRegistrationAccessToken === true,
        });
        return UpdateClientResponse.fromPartial({ client: toClientMessage(updated.client), registrationAccessToken: updated.registrationAccessToken ?? '' });
      },
      async deleteClient(req, ctx) {
        if (!req.clientId) throw new InvalidRequest('client_id is required');
        await clients.delete(req.clientId, actorOf(ctx));
        return DeleteClientResponse.fromPartial({});
      },
      async rotateClientSecret(req, ctx) {
        if (!req.clientId) throw new InvalidRequest('client_id is required');
        const { client, clientSecret } = await clients.rotateSecret(req.clientId, req.previousSecretGraceSeconds, actorOf(ctx));
        return RotateClientSecretResponse.fromPartial({ client: toClientMessage(client), clientSecret });
      },
      async authenticateClient(req) {
        const client = await clients.authenticate(presented(req.credentials), req.remoteIp.length <= 64 ? req.remoteIp : undefined);
        return AuthenticateClientResponse.fromPartial({ client: toClientMessage(client) });
      },
      // The three RFC 7592 RPCs are INTERNAL (only the gateway relays them) AND need the client's
      // registration access token in the request: the mesh credential alone manages no client,
      // and the token checked here is the one the write is made under (client-manager.ts).
      async authorizeRegistration(req) {
        const client = await clients.authorizeRegistration(req.clientId, req.registrationAccessToken);
        return AuthorizeRegistrationResponse.fromPartial({ client: toClientMessage(client) });
      },
      async updateRegistration(req) {
        if (!req.client) throw new InvalidRequest('client is required');
        // Only the RFC 7591 fields of the draft are used (client-registration.ts); client_type is
        // derived there, so whatever the request says about it is dropped before mapping.
        const { client, registrationAccessToken, clientSecret } = await clients.updateRegistration(
          req.client.clientId,
          req.registrationAccessToken,
          draftFromMessage(ClientMessage.fromPartial({ ...req.client, clientType: ClientType.CLIENT_TYPE_UNSPECIFIED })),
        );
        return UpdateRegistrationResponse.fromPartial({ client: toClientMessage(client), registrationAccessToken, clientSecret: clientSecret ?? '' });
      },
      async deleteRegistration(req) {
        await clients.deleteRegistration(req.clientId, req.registrationAccessToken);
        return DeleteRegistrationResponse.fromPartial({});
      },
    },
    {
      createClient: ADMIN_WRITE,
      getClient: ADMIN_READ_OR_MESH,
      listClients: ADMIN_READ,
      updateClient: ADMIN_WRITE,
      deleteClient: ADMIN_WRITE,
      rotateClientSecret: ADMIN_WRITE,
      authenticateClient: INTERNAL,
      authorizeRegistration: INTERNAL,
      updateRegistration: INTERNAL,
      deleteRegistration: INTERNAL,
    },
  );
}
