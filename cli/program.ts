// The `authmesh` command tree (commander): admin tasks over the mesh's gRPC admin RPCs. Every
// command prints proto JSON with --json, else a table (listings) or a key/value view; a failure is
// one stderr line `authmesh: <error code>: <description>` and a documented exit status.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { Client, CreateClientResponse, DeleteClientResponse, GetClientResponse, ListClientsResponse, RotateClientSecretResponse, UpdateClientResponse } from '../gen/ts/authmesh/client/v1/client.js';
import { GetJwksResponse, GetKeyResponse, KeyAlgorithm, ListKeysResponse, RotateKeysResponse } from '../gen/ts/authmesh/key/v1/key.js';
import { ListRefreshTokensResponse, RevokeRefreshTokensResponse, type ListRefreshTokensRequest, type RevokeRefreshTokensRequest } from '../gen/ts/authmesh/refresh_token/v1/refresh_token.js';
import { CheckAccessResponse, CreateServiceResponse, DeleteServiceResponse, GetServiceResponse, ListServicesResponse, LookupServiceResponse, Service, UpdateServiceResponse } from '../gen/ts/authmesh/service/v1/service.js';
import { IntrospectTokenResponse, RevokeTokenResponse, TokenResponse } from '../gen/ts/authmesh/token/v1/token.js';
import {
  CreateUserResponse,
  DeleteUserResponse,
  GetUserResponse,
  ListUserSessionsResponse,
  ListUsersResponse,
  RevokeAllUserSessionsResponse,
  RevokeUserSessionResponse,
  SetPasswordResponse,
  UpdateUserResponse,
  User,
} from '../gen/ts/authmesh/user/v1/user.js';
import { addAuditCommands } from './audit.js';
import { ADMIN_SCOPE, connect, DEFAULT_ADDR, describeFailure, EXIT, oneLine, UsageError, type Connection, type GlobalOptions } from './connection.js';
import { addFieldFlags, applyFieldFlags, CLIENT_FIELDS, emptyClient, emptyService, emptyUser, fromJsonFile, SERVICE_FIELDS, USER_FIELDS } from './fields.js';
import { decodedView, decodeJwt } from './jwt-decode.js';
import { formatKeyValues, formatTable, printJson, writeOut, type Column, type JsonObject } from './output.js';

/** What a command produced: its proto JSON (for --json) and how people see it. */
interface Result {
  json: unknown;
  human: string;
  /** A line for stderr in the human view only (e.g. that a secret is shown once). */
  note?: string;
}

/** How the process should end; `authmesh` sets process.exitCode from it. */
export interface Outcome {
  status: number;
}

const EXIT_HELP = `
Exit status:
  0  success
  1  the server refused the request (an OAuth or gRPC error: invalid_client, invalid_token,
     insufficient_scope, not_found, already_exists, conflict, invalid_request, ...)
  2  usage error (unknown command or option, missing or malformed argument): nothing was sent
  3  cannot reach the mesh (nothing listening at the address, or no answer before --timeout)
Errors are one line on stderr: authmesh: <error code>: <description>

Credential (for every command but \`tokens decode\`): --token / AUTHMESH_TOKEN, a ready access token
with scope ${ADMIN_SCOPE}; or --client-id / AUTHMESH_CLIENT_ID and --client-secret /
AUTHMESH_CLIENT_SECRET, with which the tool gets one (client_credentials, scope ${ADMIN_SCOPE}).
Prefer the environment variables: flags are visible to other users in the process list.`;

/** Humanized enum names for the people's view: CLIENT_TYPE_CONFIDENTIAL → confidential, KEY_ALGORITHM_ES256 → ES256. */
function humanize(value: unknown): unknown {
  if (typeof value === 'string') {
    const m = /^(CLIENT_TYPE|GRANT_TYPE|TOKEN_ENDPOINT_AUTH_METHOD|KEY_STATUS|KEY_ALGORITHM|ACCESS_DECISION)_(.+)$/.exec(value);
    if (m) return m[1] === 'KEY_ALGORITHM' ? m[2] : m[2]!.toLowerCase();
    return value;
  }
  if (Array.isArray(value)) return value.map(humanize);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, humanize(v)]));
  return value;
}

const table = (items: unknown[], columns: Column[]) => formatTable(items.map((i) => humanize(i) as JsonObject), columns);
const keyValues = (object: unknown) => formatKeyValues((humanize(object ?? {}) as JsonObject) ?? {});
const pageFooter = (token: string) => (token === '' ? '' : `\n(more: --page-token ${token})`);

/** Reads all of stdin (for `-` arguments and --password-stdin), at most `maxBytes`. */
function readStdin(what: string, maxBytes = 1 << 20): string {
  let text: string;
  try {
    text = readFileSync(0, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${what} from stdin`);
  }
  if (Buffer.byteLength(text) > maxBytes) throw new UsageError(`${what} on stdin is larger than ${maxBytes} bytes`);
  return text;
}

function readFileArg(path: string, what: string): string {
  if (path === '-') return readStdin(what);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${what} from ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** One line of stdin without its line ending (a password or token piped in). */
const stdinLine = (what: string) => readStdin(what).replace(/\r?\n$/, '');

function pageSizeOf(raw: string | undefined): number {
  if (raw === undefined) return 0;
  if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 1000) throw new UsageError(`--page-size must be 1 to 1000, got ${JSON.stringify(raw.slice(0, 20))}`);
  return Number(raw);
}

const pageOptions = (c: Command) => c.option('--page-size <n>', 'items per page, 1 to 1000 (server default 50)').option('--page-token <token>', 'next page of an earlier listing');

/**
 * Builds the command tree; a command that succeeds sets `outcome.status` to 0. Commander's own
 * errors are thrown (exitOverride), never printed or exited on: `main` reports them.
 */
export function buildProgram(outcome: Outcome): Command {
  const program = new Command('authmesh');
  program
    .description('Admin tasks on an authmesh mesh over gRPC: clients, users, services, keys, refresh tokens, sessions, tokens, audit.')
    .option('--addr <host:port>', `gRPC address of the mesh (env AUTHMESH_ADDR, default ${DEFAULT_ADDR}, what \`npm start\` serves)`)
    .option('--client-id <id>', 'client that gets the admin token (env AUTHMESH_CLIENT_ID)')
    .option('--client-secret <secret>', 'its secret (env AUTHMESH_CLIENT_SECRET)')
    .option('--token <access_token>', `a ready access token with scope ${ADMIN_SCOPE} (env AUTHMESH_TOKEN)`)
    .option('--json', 'print the response as proto JSON (for scripts)')
    .option('--timeout <seconds>', 'deadline of each call (default 10)')
    .option('--tls', 'TLS to the mesh, system CA roots (needed for an address not on this machine)')
    .option('--cacert <file>', 'TLS to the mesh, trusting this PEM CA bundle')
    .option('--plaintext', 'plaintext gRPC to an address not on this machine (the secret and token cross the network in clear)')
    .addHelpText('after', EXIT_HELP)
    .showSuggestionAfterError(true)
    .exitOverride()
    // Errors are printed by `main` as one line; so is a group run without its subcommand, whose
    // help commander would print on stderr.
    .configureOutput({ outputError: () => {}, writeErr: () => {} });

  /** Registers a command body: connects, runs, prints; failures are thrown to `authmesh.ts`. */
  const run =
    (body: (conn: Connection, opts: Record<string, unknown>, args: string[]) => Promise<Result>, offline = false) =>
    async (...all: unknown[]) => {
      const command = all.at(-1) as Command;
      const args = all.slice(0, -2) as string[];
      const opts = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
      const conn = offline ? undefined : connect(opts);
      try {
        const result = await body(conn as Connection, opts, args);
        if (opts.json) printJson(result.json);
        else {
          if (result.note) console.error(result.note);
          if (result.human !== '') writeOut(result.human);
        }
        outcome.status = EXIT.ok;
      } finally {
        conn?.close();
      }
    };
  const admin = async (conn: Connection) => ({ bearer: await conn.bearer() });

  // --- clients ---------------------------------------------------------------------------------
  const clients = program.command('clients').description('OAuth clients: create, list, show, update, rotate-secret, delete');
  const clientColumns: Column[] = [
    { header: 'CLIENT_ID', field: 'clientId' },
    { header: 'NAME', field: 'clientName' },
    { header: 'TYPE', field: 'clientType' },
    { header: 'GRANTS', field: 'grantTypes' },
    { header: 'SCOPES', field: 'scopes' },
  ];
  const secretNote = 'authmesh: the client secret is shown this once (stored only hashed): keep it now';
  addFieldFlags(
    clients
      .command('create')
      .description('register a client; prints its generated client_secret once (confidential clients)')
      .option('--id <client_id>', 'the client_id (generated when omitted)')
      .option('--file <path>', 'the client as proto JSON (- for stdin); flags override its fields'),
    CLIENT_FIELDS,
  ).action(
    run(async (conn, opts) => {
      const client = opts.file !== undefined ? fromJsonFile(readFileArg(opts.file as string, 'client'), 'client', (o) => Client.fromJSON(o)).value : emptyClient();
      applyFieldFlags(opts, CLIENT_FIELDS, client);
      if (opts.id !== undefined) client.clientId = opts.id as string;
      const res = await conn.rpc('client').createClient({ client }, await admin(conn));
      // The secret is the one thing to copy: it goes last, under the client's fields.
      const human = keyValues({ ...(res.client ? (Client.toJSON(res.client) as JsonObject) : {}), ...(res.clientSecret ? { clientSecret: res.clientSecret } : {}) });
      return { json: CreateClientResponse.toJSON(res), human, ...(res.clientSecret ? { note: secretNote } : {}) };
    }),
  );
  pageOptions(clients.command('list').description('list clients, ordered by client_id')).action(
    run(async (conn, opts) => {
      const res = await conn.rpc('client').listClients({ pageSize: pageSizeOf(opts.pageSize as string | undefined), pageToken: (opts.pageToken as string) ?? '' }, await admin(conn));
      const json = ListClientsResponse.toJSON(res) as JsonObject;
      return { json, human: table((json.clients as unknown[]) ?? [], clientColumns) + pageFooter(res.nextPageToken) };
    }),
  );
  clients
    .command('show')
    .description('show one client (never its secret)')
    .argument('<client_id>')
    .action(
      run(async (conn, _opts, [clientId]) => {
        const res = await conn.rpc('client').getClient({ clientId: clientId! }, await admin(conn));
        return { json: GetClientResponse.toJSON(res), human: keyValues(res.client && Client.toJSON(res.client)) };
      }),
    );
  addFieldFlags(
    clients
      .command('update')
      .description('change the fields given as flags (or in --file), nothing else')
      .argument('<client_id>')
      .option('--etag <etag>', 'fail with conflict if the client changed since this etag was read')
      .option('--file <path>', 'fields as proto JSON (- for stdin): each key present is changed'),
    CLIENT_FIELDS,
  ).action(
    run(async (conn, opts, [clientId]) => {
      const fromFile = opts.file !== undefined ? fromJsonFile(readFileArg(opts.file as string, 'client'), 'client', (o) => Client.fromJSON(o)) : undefined;
      const client = fromFile?.value ?? emptyClient();
      const paths = [...(fromFile?.paths ?? []), ...applyFieldFlags(opts, CLIENT_FIELDS, client)].filter((p) => p !== 'client_id' && p !== 'etag');
      // An empty update_mask means "every mutable field" (AIP-134): refuse it rather than reset the client.
      if (paths.length === 0) throw new UsageError('nothing to change: give at least one field flag (see authmesh clients update --help)');
      client.clientId = clientId!;
      client.etag = (opts.etag as string) ?? '';
      const res = await conn.rpc('client').updateClient({ client, updateMask: [...new Set(paths)] }, await admin(conn));
      return { json: UpdateClientResponse.toJSON(res), human: keyValues(res.client && Client.toJSON(res.client)) };
    }),
  );
  clients
    .command('rotate-secret')
    .description('generate a new client_secret and print it once; the old one stops working after --grace seconds')
    .argument('<client_id>')
    .option('--grace <seconds>', 'how long the previous secret keeps working (default 0: at once)')
    .action(
      run(async (conn, opts, [clientId]) => {
        const grace = opts.grace === undefined ? 0 : Number(opts.grace);
        if (!Number.isInteger(grace) || grace < 0 || grace > 86_400 * 30) throw new UsageError('--grace must be a whole number of seconds');
        const res = await conn.rpc('client').rotateClientSecret({ clientId: clientId!, previousSecretGraceSeconds: grace }, await admin(conn));
        return {
          json: RotateClientSecretResponse.toJSON(res),
          human: formatKeyValues({ clientId: res.client?.clientId ?? clientId!, clientSecret: res.clientSecret, secretRotateTime: res.client?.secretRotateTime?.toISOString() ?? '' }),
          note: secretNote,
        };
      }),
    );
  clients
    .command('delete')
    .description('delete a client; its refresh tokens are revoked')
    .argument('<client_id>')
    .action(
      run(async (conn, _opts, [clientId]) => {
        const res = await conn.rpc('client').deleteClient({ clientId: clientId! }, await admin(conn));
        return { json: DeleteClientResponse.toJSON(res), human: `deleted client ${clientId}` };
      }),
    );

  // --- users -----------------------------------------------------------------------------------
  const users = program.command('users').description('users: create, list, show, update, set-password, delete');
  const userColumns: Column[] = [
    { header: 'USER_ID', field: 'userId' },
    { header: 'USERNAME', field: 'username' },
    { header: 'EMAIL', field: 'email' },
    { header: 'ROLES', field: 'roles' },
    { header: 'DISABLED', field: 'disabled' },
    { header: 'LOCKED', field: 'locked' },
  ];
  const passwordOf = (opts: Record<string, unknown>) => {
    if (!opts.passwordStdin) throw new UsageError('give the password on stdin with --password-stdin (never as an argument: others could read it)');
    const password = stdinLine('the password');
    if (password === '') throw new UsageError('--password-stdin: stdin is empty');
    return password;
  };
  addFieldFlags(
    users
      .command('create')
      .description('create a user; the password is read from stdin')
      .argument('<username>')
      .option('--password-stdin', 'read the initial password (12 to 1024 characters) from stdin')
      .option('--admin', `an administrator: adds the role ${ADMIN_SCOPE}, with which the user signs in to the console (/console) with the admin scope`),
    USER_FIELDS.filter((f) => f.path !== 'username'),
  ).action(
    run(async (conn, opts, [username]) => {
      const user = emptyUser();
      applyFieldFlags(opts, USER_FIELDS, user);
      user.username = username!;
      // The role of the same name as the scope (services/core/oauth/admin-role.ts).
      if (opts.admin) user.roles = [...new Set([...user.roles, ADMIN_SCOPE])];
      const res = await conn.rpc('user').createUser({ user, password: passwordOf(opts) }, await admin(conn));
      return { json: CreateUserResponse.toJSON(res), human: keyValues(res.user && User.toJSON(res.user)) };
    }),
  );
  pageOptions(users.command('list').description('list users')).action(
    run(async (conn, opts) => {
      const res = await conn.rpc('user').listUsers({ pageSize: pageSizeOf(opts.pageSize as string | undefined), pageToken: (opts.pageToken as string) ?? '' }, await admin(conn));
      const json = ListUsersResponse.toJSON(res) as JsonObject;
      return { json, human: table((json.users as unknown[]) ?? [], userColumns) + pageFooter(res.nextPageToken) };
    }),
  );
  users
    .command('show')
    .description('show one user')
    .argument('<user_id>')
    .action(
      run(async (conn, _opts, [userId]) => {
        const res = await conn.rpc('user').getUser({ userId: userId! }, await admin(conn));
        return { json: GetUserResponse.toJSON(res), human: keyValues(res.user && User.toJSON(res.user)) };
      }),
    );
  addFieldFlags(users.command('update').description('change the fields given as flags, nothing else').argument('<user_id>').option('--etag <etag>', 'fail with conflict if the user changed since'), USER_FIELDS).action(
    run(async (conn, opts, [userId]) => {
      const user = emptyUser();
      const paths = applyFieldFlags(opts, USER_FIELDS, user);
      if (paths.length === 0) throw new UsageError('nothing to change: give at least one field flag (see authmesh users update --help)');
      user.userId = userId!;
      user.etag = (opts.etag as string) ?? '';
      const res = await conn.rpc('user').updateUser({ user, updateMask: paths }, await admin(conn));
      return { json: UpdateUserResponse.toJSON(res), human: keyValues(res.user && User.toJSON(res.user)) };
    }),
  );
  users
    .command('set-password')
    .description("set a user's password (read from stdin); ends the user's sessions as the server does")
    .argument('<user_id>')
    .option('--password-stdin', 'read the new password from stdin')
    .action(
      run(async (conn, opts, [userId]) => {
        const res = await conn.rpc('user').setPassword({ userId: userId!, newPassword: passwordOf(opts) }, await admin(conn));
        return { json: SetPasswordResponse.toJSON(res), human: `password set for user ${userId}` };
      }),
    );
  users
    .command('delete')
    .description('delete a user')
    .argument('<user_id>')
    .action(
      run(async (conn, _opts, [userId]) => {
        const res = await conn.rpc('user').deleteUser({ userId: userId! }, await admin(conn));
        return { json: DeleteUserResponse.toJSON(res), human: `deleted user ${userId}` };
      }),
    );

  // --- sessions ----------------------------------------------------------------------------------
  const sessions = program.command('sessions').description("users' login sessions: list, revoke");
  sessions
    .command('list')
    .description("a user's live login sessions, oldest first")
    .argument('<user_id>')
    .action(
      run(async (conn, _opts, [userId]) => {
        const res = await conn.rpc('user').listUserSessions({ userId: userId! }, await admin(conn));
        const json = ListUserSessionsResponse.toJSON(res) as JsonObject;
        return {
          json,
          human: table((json.sessions as unknown[]) ?? [], [
            { header: 'SID', field: 'sid' },
            { header: 'AUTH_TIME', field: 'authTime' },
            { header: 'EXPIRES', field: 'expireTime' },
            { header: 'CLIENTS', field: 'clientIds' },
          ]),
        };
      }),
    );
  sessions
    .command('revoke')
    .description("end one session of a user (by sid), or all of them with --all; tokens already issued stay valid until they expire")
    .argument('<user_id>')
    .argument('[sid]')
    .option('--all', "end every session of the user")
    .action(
      run(async (conn, opts, [userId, sid]) => {
        if ((sid === undefined) === !opts.all) throw new UsageError('give either a sid or --all');
        if (opts.all) {
          const res = await conn.rpc('user').revokeAllUserSessions({ userId: userId! }, await admin(conn));
          return { json: RevokeAllUserSessionsResponse.toJSON(res), human: `revoked ${res.revokedCount} session(s) of user ${userId}` };
        }
        const res = await conn.rpc('user').revokeUserSession({ userId: userId!, sid: sid! }, await admin(conn));
        return { json: RevokeUserSessionResponse.toJSON(res), human: `revoked session ${sid} of user ${userId}` };
      }),
    );

  // --- services ----------------------------------------------------------------------------------
  const services = program.command('services').description('protected APIs (resource servers): create, list, show, update, delete, lookup, check-access');
  const serviceColumns: Column[] = [
    { header: 'SERVICE_ID', field: 'serviceId' },
    { header: 'NAME', field: 'displayName' },
    { header: 'AUDIENCE', field: 'audience' },
    { header: 'SCOPES', field: 'scopes' },
  ];
  addFieldFlags(
    services
      .command('create')
      .description('register an API')
      .option('--id <service_id>', 'the service_id (generated when omitted)')
      .option('--file <path>', 'the service as proto JSON (- for stdin); flags override its fields'),
    SERVICE_FIELDS,
  ).action(
    run(async (conn, opts) => {
      const service = opts.file !== undefined ? fromJsonFile(readFileArg(opts.file as string, 'service'), 'service', (o) => Service.fromJSON(o)).value : emptyService();
      applyFieldFlags(opts, SERVICE_FIELDS, service);
      if (opts.id !== undefined) service.serviceId = opts.id as string;
      const res = await conn.rpc('service').createService({ service }, await admin(conn));
      return { json: CreateServiceResponse.toJSON(res), human: keyValues(res.service && Service.toJSON(res.service)) };
    }),
  );
  pageOptions(services.command('list').description('list APIs')).action(
    run(async (conn, opts) => {
      const res = await conn.rpc('service').listServices({ pageSize: pageSizeOf(opts.pageSize as string | undefined), pageToken: (opts.pageToken as string) ?? '' }, await admin(conn));
      const json = ListServicesResponse.toJSON(res) as JsonObject;
      return { json, human: table((json.services as unknown[]) ?? [], serviceColumns) + pageFooter(res.nextPageToken) };
    }),
  );
  services
    .command('show')
    .description('show one API with its endpoints')
    .argument('<service_id>')
    .action(
      run(async (conn, _opts, [serviceId]) => {
        const res = await conn.rpc('service').getService({ serviceId: serviceId! }, await admin(conn));
        return { json: GetServiceResponse.toJSON(res), human: keyValues(res.service && Service.toJSON(res.service)) };
      }),
    );
  addFieldFlags(services.command('update').description('change the fields given as flags, nothing else').argument('<service_id>').option('--etag <etag>', 'fail with conflict if the API changed since'), SERVICE_FIELDS).action(
    run(async (conn, opts, [serviceId]) => {
      const service = emptyService();
      const paths = applyFieldFlags(opts, SERVICE_FIELDS, service);
      if (paths.length === 0) throw new UsageError('nothing to change: give at least one field flag (see authmesh services update --help)');
      service.serviceId = serviceId!;
      service.etag = (opts.etag as string) ?? '';
      const res = await conn.rpc('service').updateService({ service, updateMask: paths }, await admin(conn));
      return { json: UpdateServiceResponse.toJSON(res), human: keyValues(res.service && Service.toJSON(res.service)) };
    }),
  );
  services
    .command('delete')
    .description('delete an API')
    .argument('<service_id>')
    .action(
      run(async (conn, _opts, [serviceId]) => {
        const res = await conn.rpc('service').deleteService({ serviceId: serviceId! }, await admin(conn));
        return { json: DeleteServiceResponse.toJSON(res), human: `deleted service ${serviceId}` };
      }),
    );

  services
    .command('lookup')
    .description('the API registered for an audience value')
    .requiredOption('--audience <audience>', 'the aud value, e.g. https://api.example.com')
    .action(
      run(async (conn, opts) => {
        const res = await conn.rpc('service').lookupService({ audience: opts.audience as string }, await admin(conn));
        return { json: LookupServiceResponse.toJSON(res), human: keyValues(res.service && Service.toJSON(res.service)) };
      }),
    );
  services
    .command('check-access')
    .description("what the registry decides for METHOD PATH with these scopes (as ext_authz would); the decision is data: exit 0 allowed or not")
    .argument('<service_id>')
    .requiredOption('--method <method>', 'HTTP method, e.g. GET')
    .requiredOption('--path <path>', 'request path, e.g. /orders/42')
    .option('--scope <scope>', "the token's scopes (space-separated or repeated)", (v: string, p: string[] | undefined) => [...(p ?? []), v])
    .option('--client <client_id>', 'the client the token was issued to')
    .action(
      run(async (conn, opts, [serviceId]) => {
        const scopes = ((opts.scope as string[] | undefined) ?? []).flatMap((v) => v.split(' ')).filter((v) => v !== '');
        const res = await conn
          .rpc('service')
          .checkAccess({ serviceId: serviceId!, audience: '', method: (opts.method as string).toUpperCase(), path: opts.path as string, scopes, clientId: (opts.client as string) ?? '' }, await admin(conn));
        const json = CheckAccessResponse.toJSON(res) as JsonObject;
        return { json, human: keyValues(json) };
      }),
    );

  // --- keys --------------------------------------------------------------------------------------
  const keys = program.command('keys').description('signing keys: list, show, rotate, jwks');
  const keyColumns: Column[] = [
    { header: 'KID', field: 'kid' },
    { header: 'ALG', field: 'algorithm' },
    { header: 'STATUS', field: 'status' },
    { header: 'CREATED', field: 'createTime' },
    { header: 'ACTIVATED', field: 'activateTime' },
    { header: 'RETIRED', field: 'retireTime' },
  ];
  keys
    .command('list')
    .description('signing keys with their status (next, active, retired); never private keys')
    .action(
      run(async (conn) => {
        const res = await conn.rpc('key').listKeys({}, await admin(conn));
        const json = ListKeysResponse.toJSON(res) as JsonObject;
        return { json, human: table((json.keys as unknown[]) ?? [], keyColumns) };
      }),
    );
  keys
    .command('show')
    .description('one signing key and its public JWK')
    .argument('<kid>')
    .action(
      run(async (conn, _opts, [kid]) => {
        const res = await conn.rpc('key').getKey({ kid: kid! }, await admin(conn));
        const json = GetKeyResponse.toJSON(res) as JsonObject;
        return { json, human: keyValues(json.key) };
      }),
    );
  keys
    .command('rotate')
    .description('rotate: the next key becomes active, the active one retires (it still verifies tokens it signed)')
    .addOption(new Option('--alg <algorithm>', 'algorithm of the new next key (default: the server setting)').choices(['ES256', 'RS256', 'EdDSA']))
    .action(
      run(async (conn, opts) => {
        const algorithm = { ES256: KeyAlgorithm.KEY_ALGORITHM_ES256, RS256: KeyAlgorithm.KEY_ALGORITHM_RS256, EdDSA: KeyAlgorithm.KEY_ALGORITHM_EDDSA }[opts.alg as string] ?? KeyAlgorithm.KEY_ALGORITHM_UNSPECIFIED;
        const res = await conn.rpc('key').rotateKeys({ algorithm }, await admin(conn));
        const json = RotateKeysResponse.toJSON(res) as JsonObject;
        const rows = (['active', 'next', 'retired'] as const).filter((k) => json[k] !== undefined).map((k) => ({ ...(json[k] as JsonObject), role: k }));
        return { json, human: table(rows, [{ header: 'ROLE', field: 'role' }, ...keyColumns]) };
      }),
    );

  keys
    .command('jwks')
    .description('the public JWK Set (RFC 7517 §5) that verifies tokens, as /.well-known/jwks.json serves it')
    .action(
      run(async (conn) => {
        const res = await conn.rpc('key').getJwks({});
        const json = GetJwksResponse.toJSON(res) as JsonObject;
        return {
          json,
          human: table((json.keys as unknown[]) ?? [], [
            { header: 'KID', field: 'kid' },
            { header: 'KTY', field: 'kty' },
            { header: 'ALG', field: 'alg' },
            { header: 'CRV', field: 'crv' },
            { header: 'USE', field: 'use' },
          ]),
        };
      }),
    );

  // --- refresh tokens ------------------------------------------------------------------------------
  const refresh = program.command('refresh-tokens').description("refresh tokens (their metadata, never their values): list, revoke");
  /** The one target a refresh-token listing or revocation names: [proto oneof case, flag, value]. */
  const oneOf = (given: [string, string, unknown][]): { $case: string; value: string } => {
    const set = given.filter(([, , v]) => v !== undefined);
    if (set.length !== 1) throw new UsageError(`give exactly one of ${given.map(([, flag]) => flag).join(', ')}`);
    return { $case: set[0]![0], value: set[0]![2] as string };
  };
  pageOptions(
    refresh
      .command('list')
      .description("a user's or a client's live refresh tokens")
      .option('--user <user_id>', 'tokens of this user')
      .option('--client <client_id>', 'tokens of this client'),
  ).action(
    run(async (conn, opts) => {
      const owner = oneOf([
        ['userId', '--user', opts.user],
        ['clientId', '--client', opts.client],
      ]) as ListRefreshTokensRequest['owner'];
      const res = await conn.rpc('refreshToken').listRefreshTokens({ owner, pageSize: pageSizeOf(opts.pageSize as string | undefined), pageToken: (opts.pageToken as string) ?? '' }, await admin(conn));
      const json = ListRefreshTokensResponse.toJSON(res) as JsonObject;
      return {
        json,
        human:
          table((json.refreshTokens as unknown[]) ?? [], [
            { header: 'TOKEN_ID', field: 'tokenId' },
            { header: 'FAMILY_ID', field: 'familyId' },
            { header: 'CLIENT_ID', field: 'clientId' },
            { header: 'USER_ID', field: 'userId' },
            { header: 'SCOPES', field: 'scopes' },
            { header: 'EXPIRES', field: 'expireTime' },
          ]) + pageFooter(res.nextPageToken),
      };
    }),
  );
  refresh
    .command('revoke')
    .description('revoke refresh tokens: all of a user or a client, one family, or the family of one token')
    .option('--user <user_id>', 'every token of this user')
    .option('--client <client_id>', 'every token of this client')
    .option('--family <family_id>', 'every token of this family')
    .option('--token-id <token_id>', 'the family of this token')
    .action(
      run(async (conn, opts) => {
        const target = oneOf([
          ['userId', '--user', opts.user],
          ['clientId', '--client', opts.client],
          ['familyId', '--family', opts.family],
          ['tokenId', '--token-id', opts.tokenId],
        ]) as RevokeRefreshTokensRequest['target'];
        const res = await conn.rpc('refreshToken').revokeRefreshTokens({ target }, await admin(conn));
        return { json: RevokeRefreshTokensResponse.toJSON(res), human: `revoked ${res.revokedCount} refresh token(s)` };
      }),
    );

  // --- tokens ------------------------------------------------------------------------------------
  const tokens = program.command('tokens').description('tokens: get (client_credentials), introspect, revoke, decode');
  tokens
    .command('get')
    .description('get an access token with client_credentials (RFC 6749 §4.4) for the client of --client-id; prints the token, which is its purpose')
    .option('--scope <scope>', `space-separated scopes (default ${ADMIN_SCOPE}; "" for all the client may have)`)
    .option('--resource <uri>', 'resource indicator, RFC 8707 (repeat for more)', (v: string, p: string[] | undefined) => [...(p ?? []), v])
    .action(
      run(async (conn, opts) => {
        const res = await conn.rpc('token').token({
          client: conn.clientCredentials(),
          grant: { $case: 'clientCredentials', value: { scope: (opts.scope as string | undefined) ?? ADMIN_SCOPE, resource: (opts.resource as string[] | undefined) ?? [] } },
          remoteIp: '',
          dpop: undefined,
          clientCertificate: undefined,
        });
        return { json: TokenResponse.toJSON(res), human: keyValues(TokenResponse.toJSON(res)) };
      }),
    );
  tokens
    .command('introspect')
    .description('ask the server about a token (RFC 7662), authenticated as the client of --client-id; "-" reads the token from stdin')
    .argument('<token>')
    .option('--hint <type>', 'access_token or refresh_token')
    .action(
      run(async (conn, opts, [token]) => {
        const value = token === '-' ? stdinLine('the token') : token!;
        const res = await conn.rpc('token').introspectToken({ client: conn.clientCredentials(), token: value, tokenTypeHint: (opts.hint as string) ?? '', remoteIp: '' });
        // RFC 7662 §2.2: active is always present, false included.
        return { json: { active: res.active, ...(IntrospectTokenResponse.toJSON(res) as JsonObject) }, human: keyValues({ active: res.active, ...(IntrospectTokenResponse.toJSON(res) as JsonObject) }) };
      }),
    );
  tokens
    .command('revoke')
    .description('revoke a token (RFC 7009) as the client it was issued to (--client-id); a refresh token takes its family with it; "-" reads the token from stdin')
    .argument('<token>')
    .option('--hint <type>', 'access_token or refresh_token')
    .action(
      run(async (conn, opts, [token]) => {
        const value = token === '-' ? stdinLine('the token') : token!;
        const res = await conn.rpc('token').revokeToken({ client: conn.clientCredentials(), token: value, tokenTypeHint: (opts.hint as string) ?? '', remoteIp: '' });
        // RFC 7009 §2.2: an unknown or already invalid token is revoked as far as anyone can tell.
        return { json: RevokeTokenResponse.toJSON(res), human: 'revoked (or already invalid)' };
      }),
    );
  tokens
    .command('decode')
    .description('show a JWT\'s header and claims offline; verifies NOTHING (no signature, no expiry); "-" reads stdin')
    .argument('<jwt>')
    .action(
      run(async (_conn, _opts, [jwt]) => {
        const decoded = decodeJwt(jwt === '-' ? stdinLine('the token') : jwt!);
        return { json: decoded, human: formatKeyValues(decodedView(decoded)) };
      }, true),
    );

  addAuditCommands(program, outcome);

  return program;
}

/**
 * Runs the command line `argv` (without node and the script): prints, and returns the exit status.
 * Never throws and never exits the process itself, so output is flushed before Node exits.
 */
export async function main(argv: string[]): Promise<number> {
  const outcome: Outcome = { status: EXIT.ok };
  const program = buildProgram(outcome);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return outcome.status;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and the help command print on stdout and end with 0; a command group run without
      // its subcommand would print help on stderr (exit code 1 in commander's terms): a usage error.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || (err.code === 'commander.help' && err.exitCode === 0)) return EXIT.ok;
      if (err.code === 'commander.help') {
        const words = oneLine(argv.filter((a) => !a.startsWith('-')).join(' '));
        console.error(words === '' ? 'authmesh: invalid_request: a command is needed (see authmesh --help)' : `authmesh: invalid_request: '${words}' needs a subcommand (see authmesh ${words} --help)`);
        return EXIT.usage;
      }
      console.error(`authmesh: invalid_request: ${oneLine(err.message.replace(/^error: /, ''))} (see authmesh --help)`);
      return EXIT.usage;
    }
    const failure = describeFailure(err, program.opts<GlobalOptions>().addr ?? process.env.AUTHMESH_ADDR ?? DEFAULT_ADDR);
    console.error(failure.line);
    return failure.status;
  }
}
