// The authmesh admin console: a Preact single-page app (see README "Console"). Screens are chosen
// by the URL's fragment (#/clients, #/users, …) so the gateway serves one page for all of them.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { completeSignIn, currentSession, isAdministrator, onSessionChange, signIn, signOut } from './auth.js';
import { AuditScreen } from './screens/audit.js';
import { ClientsScreen } from './screens/clients.js';
import { KeysScreen } from './screens/keys.js';
import { OverviewScreen } from './screens/overview.js';
import { ServicesScreen } from './screens/services.js';
import { UsersScreen } from './screens/users.js';
import './styles.css';

const SCREENS = [
  { path: 'clients', title: 'Clients', View: ClientsScreen },
  { path: 'users', title: 'Users', View: UsersScreen },
  { path: 'services', title: 'Services', View: ServicesScreen },
  { path: 'keys', title: 'Keys', View: KeysScreen },
  { path: 'audit', title: 'Audit trail', View: AuditScreen },
  { path: 'overview', title: 'Overview', View: OverviewScreen },
] as const;

const screenOf = (hash: string) => SCREENS.find((s) => hash === `#/${s.path}`) ?? SCREENS[0];

/** The signed-in administrator's username (read through the admin RPCs; the user id until then). */
function Username({ userId }: { userId: string }) {
  const [name, setName] = useState(userId);
  useEffect(() => {
    api.users
      .getUser({ userId })
      .then((res) => setName(res.user?.username ?? userId))
      .catch(() => undefined);
  }, [userId]);
  return <span data-testid="username">{name}</span>;
}

function App() {
  const [session, setSession] = useState(currentSession());
  const [error, setError] = useState<string | undefined>();
  const [starting, setStarting] = useState(window.location.pathname === '/console/callback');
  const [hash, setHash] = useState(window.location.hash);

  useEffect(() => onSessionChange(() => setSession(currentSession())), []);
  useEffect(() => {
    const onHash = () => setHash(window.location.hash);
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    if (!starting) return;
    void completeSignIn().then((message) => {
      setError(message);
      setStarting(false);
    });
  }, []);
  const screen = screenOf(hash);
  useEffect(() => {
    document.title = session ? `${screen.title} · authmesh console` : 'authmesh console';
    // A keyboard or screen-reader user lands on the new screen, not on the link that opened it.
    if (session && window.location.hash !== '') document.getElementById('main')?.focus();
  }, [screen, session]);

  if (starting) return <main class="center" aria-busy="true"><p>Signing in…</p></main>;
  if (!session) {
    return (
      <main class="center">
        <h1>authmesh console</h1>
        {error && <p class="error" role="alert">{error}</p>}
        <p>Sign in with an administrator account of this server.</p>
        <button type="button" class="primary" onClick={() => void signIn()}>
          Sign in
        </button>
      </main>
    );
  }
  if (!isAdministrator(session)) {
    return (
      <main class="center">
        <h1>Not an administrator</h1>
        <p role="alert">
          You are signed in (user <code>{session.subject}</code>), but you are not an administrator of this server: your token has no <code>authmesh.admin</code> scope.
          An administrator can give you the role <code>authmesh.admin</code>.
        </p>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </main>
    );
  }
  const View = screen.View;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <span class="brand">authmesh console</span>
        <nav aria-label="Screens">
          <ul>
            {SCREENS.map((s) => (
              <li key={s.path}>
                <a href={`#/${s.path}`} aria-current={s === screen ? 'page' : undefined}>
                  {s.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          <Username userId={session.subject} />{' '}
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <h1>{screen.title}</h1>
        <View key={screen.path} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
