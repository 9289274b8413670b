// Users: list, create (optionally as administrator), disable/enable, unlock, reset the password,
// and per user the login sessions and refresh tokens, each revocable.
import { create } from '@bufbuild/protobuf';
import { FieldMaskSchema } from '@bufbuild/protobuf/wkt';
import { useEffect, useState } from 'preact/hooks';
import type { RefreshTokenInfo } from '../../../gen/es/authmesh/refresh_token/v1/refresh_token_pb.js';
import { UserSchema, type User, type UserSession } from '../../../gen/es/authmesh/user/v1/user_pb.js';
import { api, shownError } from '../api.js';
import type { ShownError } from '../errors.js';
import { ErrorBanner, Field, Notice, when } from '../ui.js';

const PAGE_SIZE = 20;
/** The role that makes a user an administrator (services/core/oauth/admin-role.ts). */
const ADMIN_ROLE = 'authmesh.admin';

function NewUser({ onDone }: { onDone: (message?: string) => void }) {
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [admin, setAdmin] = useState(false);
  const [error, setError] = useState<ShownError | undefined>();
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const res = await api.users.createUser({ user: create(UserSchema, { username, email, roles: admin ? [ADMIN_ROLE] : [] }), password });
      onDone(`User ${res.user?.username} created.`);
    } catch (err) {
      setError(shownError(err));
    }
  };
  return (
    <form class="card" aria-labelledby="new-user-title" onSubmit={(e) => void submit(e)}>
      <h2 id="new-user-title">New user</h2>
      <ErrorBanner error={error} fields={['username', 'email', 'password']} />
      <Field label="Username" name="username" error={error}>
        {(id, by) => <input id={id} aria-describedby={by} required autocomplete="off" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />}
      </Field>
      <Field label="Email" name="email" error={error}>
        {(id, by) => <input id={id} type="email" aria-describedby={by} value={email} onInput={(e) => setEmail(e.currentTarget.value)} />}
      </Field>
      <Field label="Initial password" name="password" error={error} hint="12 to 1024 characters.">
        {(id, by) => <input id={id} type="password" autocomplete="new-password" aria-describedby={by} required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />}
      </Field>
      <label class="check">
        <input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.currentTarget.checked)} /> Administrator (role <code>{ADMIN_ROLE}</code>: may use this console)
      </label>
      <div class="actions">
        <button type="submit" class="primary">
          Create
        </button>
        <button type="button" onClick={() => onDone()}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function UserDetail({ user, onChanged, onClose }: { user: User; onChanged: (message: string) => void; onClose: () => void }) {
  const [sessions, setSessions] = useState<UserSession[]>([]);
  const [tokens, setTokens] = useState<RefreshTokenInfo[]>([]);
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ShownError | undefined>();
  const [notice, setNotice] = useState('');

  const load = async () => {
    try {
      const [s, t] = await Promise.all([api.users.listUserSessions({ userId: user.userId }), api.refreshTokens.listRefreshTokens({ owner: { case: 'userId', value: user.userId }, pageSize: 100 })]);
      setSessions(s.sessions);
      setTokens(t.refreshTokens);
    } catch (err) {
      setError(shownError(err));
    }
  };
  useEffect(() => void load(), [user.userId]);

  /** `reload: 'user'` when the action changed the user's version (etag): the list is read again. */
  const act = async (action: () => Promise<unknown>, message: string, reload: 'detail' | 'user') => {
    try {
      await action();
      setError(undefined);
      setNotice(message);
      if (reload === 'user') onChanged(message);
      else await load();
    } catch (err) {
      setError(shownError(err));
    }
  };
  const update = (patch: Partial<User>, paths: string[], message: string) =>
    act(() => api.users.updateUser({ user: create(UserSchema, { ...user, ...patch }), updateMask: create(FieldMaskSchema, { paths }) }), message, 'user');
  const isAdmin = user.roles.includes(ADMIN_ROLE);

  return (
    <section class="card" aria-labelledby="user-title">
      <h2 id="user-title">User {user.username}</h2>
      <p>
        <code>{user.userId}</code> · {user.email || 'no email'} · roles: {user.roles.join(', ') || 'none'} · {user.disabled ? 'disabled' : 'active'}
        {user.locked ? ' · locked after failed logins' : ''}
      </p>
      {notice && <Notice>{notice}</Notice>}
      <ErrorBanner error={error} fields={['password']} />
      <div class="actions">
        <button type="button" onClick={() => void update({ disabled: !user.disabled }, ['disabled'], user.disabled ? `${user.username} enabled.` : `${user.username} disabled.`)}>
          {user.disabled ? 'Enable' : 'Disable'}
        </button>
        <button type="button" disabled={!user.locked} onClick={() => void update({ locked: false }, ['locked'], `${user.username} unlocked.`)}>
          Unlock
        </button>
        <button
          type="button"
          onClick={() =>
            void update({ roles: isAdmin ? user.roles.filter((r) => r !== ADMIN_ROLE) : [...user.roles, ADMIN_ROLE] }, ['roles'], isAdmin ? `${user.username} is no longer an administrator.` : `${user.username} is an administrator.`)
          }
        >
          {isAdmin ? 'Remove administrator role' : 'Make administrator'}
        </button>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void act(() => api.users.setPassword({ userId: user.userId, newPassword: password }), `Password of ${user.username} reset.`, 'user').then(() => setPassword(''));
        }}
      >
        <Field label="New password" name="password" error={error} hint="12 to 1024 characters; ends the user's login sessions and refresh tokens.">
          {(id, by) => <input id={id} type="password" autocomplete="new-password" aria-describedby={by} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />}
        </Field>
        <button type="submit">Reset password</button>
      </form>

      <h3>Login sessions</h3>
      {sessions.length === 0 ? (
        <p>No active login session.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Signed in</th>
                <th scope="col">Expires</th>
                <th scope="col">Clients</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((s) => (
                <tr key={s.sid}>
                  <td>{when(s.authTime)}</td>
                  <td>{when(s.expireTime)}</td>
                  <td>{s.clientIds.join(', ')}</td>
                  <td>
                    <button type="button" class="danger" onClick={() => void act(() => api.users.revokeUserSession({ userId: user.userId, sid: s.sid }), 'Session revoked.', 'detail')}>
                      Revoke session
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h3>Refresh tokens</h3>
      {tokens.length === 0 ? (
        <p>No refresh token.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Client</th>
                <th scope="col">Scopes</th>
                <th scope="col">Issued</th>
                <th scope="col">Expires</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.tokenId}>
                  <td>{t.clientId}</td>
                  <td>{t.scopes.join(' ')}</td>
                  <td>{when(t.createTime)}</td>
                  <td>{when(t.expireTime)}</td>
                  <td>
                    <button type="button" class="danger" onClick={() => void act(() => api.refreshTokens.revokeRefreshTokens({ target: { case: 'familyId', value: t.familyId } }), 'Refresh token revoked.', 'detail')}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function UsersScreen() {
  const [users, setUsers] = useState<User[]>([]);
  const [pages, setPages] = useState<string[]>(['']);
  const [next, setNext] = useState('');
  const [error, setError] = useState<ShownError | undefined>();
  const [notice, setNotice] = useState('');
  const [creating, setCreating] = useState(false);
  const [selected, setSelected] = useState<string | undefined>();
  const page = pages[pages.length - 1]!;

  const load = async () => {
    try {
      const res = await api.users.listUsers({ pageSize: PAGE_SIZE, pageToken: page });
      setUsers(res.users);
      setNext(res.nextPageToken);
      setError(undefined);
    } catch (err) {
      setError(shownError(err));
    }
  };
  useEffect(() => void load(), [page]);

  if (creating) {
    return (
      <NewUser
        onDone={(message) => {
          setCreating(false);
          if (message) setNotice(message);
          void load();
        }}
      />
    );
  }
  const user = users.find((u) => u.userId === selected);
  return (
    <>
      {notice && <Notice>{notice}</Notice>}
      <ErrorBanner error={error} />
      {user && (
        <UserDetail
          key={`${user.userId}-${user.etag}`}
          user={user}
          onChanged={(m) => {
            // The notice shows once the list (and with it this user's new etag) is read again.
            void load().then(() => setNotice(m));
          }}
          onClose={() => setSelected(undefined)}
        />
      )}
      <div class="toolbar">
        <button type="button" class="primary" onClick={() => setCreating(true)}>
          New user
        </button>
      </div>
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Users</caption>
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Email</th>
              <th scope="col">Roles</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.userId}>
                <td>{u.username}</td>
                <td>{u.email}</td>
                <td>{u.roles.join(', ')}</td>
                <td>{u.disabled ? 'disabled' : u.locked ? 'locked' : 'active'}</td>
                <td>
                  <button type="button" onClick={() => setSelected(u.userId)} aria-label={`Manage ${u.username}`}>
                    Manage
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="User pages">
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
