/** The dashboard's frame: the navigation, the API key form when the API asks for one, and the page. */
import { useEffect, useState } from 'preact/hooks';
import { auth } from './api';
import { Failed } from './failed';
import { Group, Groups } from './groups';
import { useAuthChanges } from './hooks';
import { Job } from './job';
import { Jobs } from './jobs';
import { Overview } from './overview';
import { type Page, parseHash, type Route } from './routes';
import { Schedules } from './schedules';
import { Workers } from './workers';

const NAV: ReadonlyArray<[string, string, readonly Page[]]> = [
  ['#/', 'Overview', ['overview']],
  ['#/jobs', 'Jobs', ['jobs', 'job']],
  ['#/failed', 'Failed', ['failed']],
  ['#/workers', 'Workers', ['workers']],
  ['#/groups', 'Groups', ['groups', 'group']],
  ['#/schedules', 'Schedules', ['schedules']],
];

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const follow = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', follow);
    return () => removeEventListener('hashchange', follow);
  }, []);
  return route;
}

/** Asks for the key when the API answered 401: without one, or with one it refused. */
function KeyForm() {
  useAuthChanges();
  const problem = auth.problem();
  if (problem === null) return null;
  return (
    <section class="key-form" aria-labelledby="key-title">
      <h2 id="key-title">API key needed</h2>
      {problem === 'refused' ? (
        <p class="error" role="alert">
          The manager refused this key (401 UNAUTHORIZED). Check it and try again.
        </p>
      ) : (
        <p role="status">This manager asks for an API key (one of its API_KEYS) to read or change jobs.</p>
      )}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          const key = String(new FormData(event.currentTarget).get('key') ?? '').trim();
          if (key !== '') auth.use(key);
        }}
      >
        <label for="api-key">API key</label>{' '}
        <input id="api-key" name="key" type="password" autocomplete="off" required spellcheck={false} />{' '}
        <button type="submit">Use this key</button>
      </form>
      <p class="muted">
        Kept in this tab only (sessionStorage) and sent as <code>Authorization: Bearer</code>; never put in a
        URL.
      </p>
    </section>
  );
}

function KeyStatus() {
  useAuthChanges();
  if (!auth.hasKey()) return null;
  return (
    <p class="key-status">
      API key in use{' '}
      <button type="button" onClick={() => auth.forget()}>
        Forget key
      </button>
    </p>
  );
}

function CurrentPage({ route }: { route: Route }) {
  switch (route.page) {
    case 'overview':
      return <Overview />;
    case 'jobs':
      return <Jobs params={route.params} />;
    case 'job':
      return <Job key={route.id} id={route.id ?? ''} />;
    case 'failed':
      return <Failed params={route.params} />;
    case 'workers':
      return <Workers />;
    case 'groups':
      return <Groups params={route.params} />;
    case 'group':
      return <Group key={route.id} id={route.id ?? ''} />;
    case 'schedules':
      return <Schedules />;
    default:
      return (
        <>
          <h1>No such page</h1>
          <p>
            <a href="#/">Go to the overview</a>.
          </p>
        </>
      );
  }
}

export function App() {
  const route = useRoute();
  useEffect(() => {
    const titles: Partial<Record<Page, string>> = { job: 'Job', group: 'Group' };
    const name =
      titles[route.page] ?? NAV.find(([, , pages]) => pages.includes(route.page))?.[1] ?? 'Dashboard';
    document.title = `${name} · distributed-workers`;
  }, [route]);
  return (
    <>
      {/* The first stop for a keyboard: past the navigation (a button: the URL's hash is the router's). */}
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <p class="brand">distributed-workers</p>
        <nav aria-label="Pages">
          <ul>
            {NAV.map(([href, label, pages]) => (
              <li key={href}>
                <a href={href} aria-current={pages.includes(route.page) ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <KeyStatus />
      </header>
      <main id="main" tabIndex={-1}>
        <KeyForm />
        <CurrentPage route={route} />
      </main>
    </>
  );
}
