// Clients: list (filter, pages), create (the secret shown once), edit, rotate the secret, delete.
// Redirect URIs are checked by the server (RFC 9700 §2.1 rules in services/core/oauth/redirect-uri.ts);
// its refusal is shown next to the field.
import { create } from '@bufbuild/protobuf';
import { FieldMaskSchema } from '@bufbuild/protobuf/wkt';
import { useEffect, useState } from 'preact/hooks';
import { ClientSchema, ClientType, GrantType, type Client } from '../../../gen/es/authmesh/client/v1/client_pb.js';
import { api, shownError } from '../api.js';
import type { ShownError } from '../errors.js';
import { ErrorBanner, Field, lines, Notice, when, words } from '../ui.js';

const PAGE_SIZE = 20;
const GRANTS: [GrantType, string][] = [
  [GrantType.AUTHORIZATION_CODE, 'authorization_code'],
  [GrantType.REFRESH_TOKEN, 'refresh_token'],
  [GrantType.CLIENT_CREDENTIALS, 'client_credentials'],
  [GrantType.DEVICE_CODE, 'device_code'],
  [GrantType.TOKEN_EXCHANGE, 'token_exchange'],
];
const TYPES: [ClientType, string][] = [
  [ClientType.CONFIDENTIAL, 'confidential (has a secret)'],
  [ClientType.PUBLIC, 'public (browser or native app, PKCE)'],
];
const grantName = (g: GrantType) => GRANTS.find(([v]) => v === g)?.[1] ?? GrantType[g]?.toLowerCase() ?? String(g);

/** A secret the server returned: shown once, never stored anywhere but this screen's state. */
function SecretOnce({ clientId, secret, onDone }: { clientId: string; secret: string; onDone: () => void }) {
  return (
    <section class="secret" aria-labelledby="secret-title">
      <h2 id="secret-title">Client secret of {clientId}</h2>
      <p>Copy it now: it is shown once and cannot be read again (the server keeps only its hash).</p>
      <code class="secret-value" data-testid="client-secret">
        {secret}
      </code>
      <button type="button" onClick={onDone}>
        I have copied it
      </button>
    </section>
  );
}

interface Draft {
  name: string;
  type: ClientType;
  redirectUris: string;
  grants: GrantType[];
  scopes: string;
}
const emptyDraft: Draft = { name: '', type: ClientType.CONFIDENTIAL, redirectUris: '', grants: [GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN], scopes: '' };
const draftOf = (c: Client): Draft => ({ name: c.clientName, type: c.clientType, redirectUris: c.redirectUris.join('\n'), grants: [...c.grantTypes], scopes: c.scopes.join(' ') });

function ClientForm(props: { title: string; initial: Draft; existing: boolean; error: ShownError | undefined; busy: boolean; onSubmit: (d: Draft) => void; onCancel: () => void }) {
  const [d, setD] = useState(props.initial);
  const { error } = props;
  return (
    <form
      class="card"
      aria-labelledby="client-form-title"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit(d);
      }}
    >
      <h2 id="client-form-title">{props.title}</h2>
      <ErrorBanner error={error} fields={['client_name', 'redirect_uris', 'scopes', 'grant_types']} />
      <Field label="Name" name="client_name" error={error}>
        {(id, by) => <input id={id} aria-describedby={by} value={d.name} onInput={(e) => setD({ ...d, name: e.currentTarget.value })} />}
      </Field>
      {!props.existing && (
        <Field label="Type" name="client_type" error={error}>
          {(id, by) => (
            <select id={id} aria-describedby={by} value={d.type} onChange={(e) => setD({ ...d, type: Number(e.currentTarget.value) as ClientType })}>
              {TYPES.map(([v, label]) => (
                <option value={v}>{label}</option>
              ))}
            </select>
          )}
        </Field>
      )}
      <Field label="Redirect URIs" name="redirect_uris" error={error} hint="One per line: https, or http only on 127.0.0.1 / [::1]; matched exactly.">
        {(id, by) => <textarea id={id} aria-describedby={by} rows={3} value={d.redirectUris} onInput={(e) => setD({ ...d, redirectUris: e.currentTarget.value })} />}
      </Field>
      <fieldset class="field">
        <legend>Grant types</legend>
        {GRANTS.map(([g, label]) => (
          <label class="check">
            <input
              type="checkbox"
              checked={d.grants.includes(g)}
              onChange={(e) => setD({ ...d, grants: e.currentTarget.checked ? [...d.grants, g] : d.grants.filter((x) => x !== g) })}
            />{' '}
            {label}
          </label>
        ))}
      </fieldset>
      <Field label="Scopes" name="scopes" error={error} hint="Separated by spaces.">
        {(id, by) => <input id={id} aria-describedby={by} value={d.scopes} onInput={(e) => setD({ ...d, scopes: e.currentTarget.value })} />}
      </Field>
      <div class="actions">
        <button type="submit" class="primary" disabled={props.busy}>
          Save
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function ClientsScreen() {
  const [clients, setClients] = useState<Client[]>([]);
  const [pages, setPages] = useState<string[]>(['']);
  const [next, setNext] = useState('');
  const [filter, setFilter] = useState('');
  const [error, setError] = useState<ShownError | undefined>();
  const [mode, setMode] = useState<{ kind: 'list' } | { kind: 'create' } | { kind: 'edit'; client: Client }>({ kind: 'list' });
  const [secret, setSecret] = useState<{ clientId: string; secret: string } | undefined>();
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);

  const load = async (pageToken: string) => {
    try {
      const res = await api.clients.listClients({ pageSize: PAGE_SIZE, pageToken });
      setClients(res.clients);
      setNext(res.nextPageToken);
      setError(undefined);
    } catch (err) {
      setError(shownError(err));
    }
  };
  const page = pages[pages.length - 1]!;
  useEffect(() => void load(page), [page]);

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setNotice('');
    try {
      await action();
      setError(undefined);
    } catch (err) {
      setError(shownError(err));
    } finally {
      setBusy(false);
    }
  };

  const save = (d: Draft) =>
    run(async () => {
      const client = create(ClientSchema, {
        clientName: d.name,
        clientType: d.type,
        redirectUris: lines(d.redirectUris),
        grantTypes: d.grants,
        scopes: words(d.scopes),
      });
      if (mode.kind === 'edit') {
        client.clientId = mode.client.clientId;
        client.clientType = mode.client.clientType;
        client.etag = mode.client.etag;
        await api.clients.updateClient({ client, updateMask: create(FieldMaskSchema, { paths: ['client_name', 'redirect_uris', 'grant_types', 'scopes'] }) });
        setNotice(`Client ${client.clientId} saved.`);
      } else {
        const res = await api.clients.createClient({ client });
        if (res.clientSecret) setSecret({ clientId: res.client!.clientId, secret: res.clientSecret });
        setNotice(`Client ${res.client!.clientId} created.`);
      }
      setMode({ kind: 'list' });
      await load(page);
    });

  const rotate = (c: Client) =>
    run(async () => {
      if (!window.confirm(`Rotate the secret of ${c.clientId}? The current secret stops working.`)) return;
      const res = await api.clients.rotateClientSecret({ clientId: c.clientId, previousSecretGraceSeconds: 0 });
      // The rotation changed the client's version (etag): the list is read again before it shows.
      await load(page);
      setSecret({ clientId: c.clientId, secret: res.clientSecret });
      setNotice(`Secret of ${c.clientId} rotated.`);
    });

  const remove = (c: Client) =>
    run(async () => {
      if (!window.confirm(`Delete client ${c.clientId}? Its tokens stop working.`)) return;
      await api.clients.deleteClient({ clientId: c.clientId });
      setNotice(`Client ${c.clientId} deleted.`);
      await load(page);
    });

  // An edit starts from the client as it is now (its current etag), not as the list last read it.
  const edit = (c: Client) =>
    run(async () => {
      const res = await api.clients.getClient({ clientId: c.clientId });
      setMode({ kind: 'edit', client: res.client ?? c });
    });

  if (mode.kind !== 'list') {
    return (
      <ClientForm
        title={mode.kind === 'edit' ? `Edit ${mode.client.clientId}` : 'New client'}
        initial={mode.kind === 'edit' ? draftOf(mode.client) : emptyDraft}
        existing={mode.kind === 'edit'}
        error={error}
        busy={busy}
        onSubmit={(d) => void save(d)}
        onCancel={() => {
          setError(undefined);
          setMode({ kind: 'list' });
        }}
      />
    );
  }
  const needle = filter.trim().toLowerCase();
  const shown = needle === '' ? clients : clients.filter((c) => c.clientId.toLowerCase().includes(needle) || c.clientName.toLowerCase().includes(needle));
  return (
    <>
      {secret && <SecretOnce {...secret} onDone={() => setSecret(undefined)} />}
      {notice && <Notice>{notice}</Notice>}
      <ErrorBanner error={error} />
      <div class="toolbar">
        <label>
          Search{' '}
          <input type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} placeholder="client id or name" />
        </label>
        <button type="button" class="primary" onClick={() => setMode({ kind: 'create' })}>
          New client
        </button>
      </div>
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Clients</caption>
          <thead>
            <tr>
              <th scope="col">Client ID</th>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Grants</th>
              <th scope="col">Secret rotated</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((c) => (
              <tr key={c.clientId} data-client-id={c.clientId}>
                <td>
                  <code>{c.clientId}</code>
                </td>
                <td>{c.clientName}</td>
                <td>{c.clientType === ClientType.PUBLIC ? 'public' : c.clientType === ClientType.TRUSTED ? 'trusted' : 'confidential'}</td>
                <td>{c.grantTypes.map(grantName).join(', ')}</td>
                <td>{when(c.secretRotateTime)}</td>
                <td>
                  <div class="row-actions">
                  <button type="button" onClick={() => void edit(c)} aria-label={`Edit ${c.clientId}`}>
                    Edit
                  </button>
                  {c.clientType !== ClientType.PUBLIC && (
                    <button type="button" onClick={() => void rotate(c)} aria-label={`Rotate secret of ${c.clientId}`} disabled={busy}>
                      Rotate secret
                    </button>
                  )}
                  <button type="button" class="danger" onClick={() => void remove(c)} aria-label={`Delete ${c.clientId}`} disabled={busy}>
                    Delete
                  </button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {shown.length === 0 && <p>No clients{needle ? ' match on this page' : ''}.</p>}
      <nav class="pager" aria-label="Client pages">
        <button type="button" disabled={pages.length === 1} onClick={() => setPages(pages.slice(0, -1))}>
          Previous page
        </button>
        <span>Page {pages.length}</span>
        <button type="button" disabled={next === ''} onClick={() => setPages([...pages, next])}>
          Next page
        </button>
      </nav>
    </>
  );
}
