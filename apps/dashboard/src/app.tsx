import { useEffect, useMemo, useState } from 'preact/hooks';
import { CallerAccess, CallerResource } from '@tasklane/contracts/browser';
import { ApiClient, ApiError } from './api/api-client';
import { Overview } from './overview';
import { ListFilters, NO_FILTERS, TaskList } from './task-list';
import { TaskPageView } from './task-page';

type Route = { page: 'list'; filters: ListFilters } | { page: 'task'; taskId: string };

/** The page from the address: `#/tasks/<id>`, or `#/?<filters>`. */
function routeOf(hash: string): Route {
  const match = /^#\/tasks\/([0-9a-fA-F-]{36})$/.exec(hash);
  if (match) {
    return { page: 'task', taskId: match[1] };
  }
  const params = new URLSearchParams(hash.replace(/^#\/?\??/, ''));
  const filters = { ...NO_FILTERS };
  for (const name of Object.keys(NO_FILTERS) as Array<keyof ListFilters>) {
    filters[name] = params.get(name) ?? '';
  }
  return { page: 'list', filters };
}

function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return routeOf(hash);
}

function KeyForm(props: { error: string | null; onKey: (key: string) => void }) {
  const [key, setKey] = useState('');
  return (
    <form
      class="key-form"
      onSubmit={(event) => {
        event.preventDefault();
        props.onKey(key.trim());
      }}
    >
      <h2>API key</h2>
      <p>This gateway requires an API key. A read-only key shows everything and changes nothing.</p>
      <label>
        Key
        <input
          type="password"
          name="api-key"
          autocomplete="off"
          required
          minLength={16}
          value={key}
          onInput={(event) => setKey((event.target as HTMLInputElement).value)}
        />
      </label>
      {props.error ? (
        <p class="error" role="alert">
          {props.error}
        </p>
      ) : null}
      <button type="submit">Open the dashboard</button>
    </form>
  );
}

/** The dashboard: asks for a key when the gateway needs one, then the overview, the list, a task. */
export function App() {
  const api = useMemo(() => new ApiClient(), []);
  const [caller, setCaller] = useState<CallerResource | null>(null);
  const [keyError, setKeyError] = useState<string | null>(null);
  const [needsKey, setNeedsKey] = useState(false);
  const route = useRoute();

  const identify = async () => {
    try {
      setCaller(await api.get<CallerResource>('/api/dashboard/caller'));
      setNeedsKey(false);
      setKeyError(null);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        setNeedsKey(true);
        setKeyError(api.hasKey ? 'That key was refused.' : null);
        api.setKey(null);
      } else {
        setKeyError((error as Error).message);
      }
    }
  };
  useEffect(() => {
    void identify();
  }, []);

  return (
    <>
      <header class="top">
        <h1>
          <a href="#/">Tasklane</a>
        </h1>
        {caller ? (
          <span class="muted" data-testid="caller">
            {caller.access === CallerAccess.Open
              ? 'open API (no keys configured)'
              : `${caller.access} · ${caller.actor}`}
          </span>
        ) : null}
        {caller && caller.access !== CallerAccess.Open ? (
          <button
            type="button"
            onClick={() => {
              api.setKey(null);
              setCaller(null);
              setNeedsKey(true);
            }}
          >
            Forget key
          </button>
        ) : null}
      </header>
      <main>
        {needsKey && !caller ? (
          <KeyForm
            error={keyError}
            onKey={(key) => {
              api.setKey(key);
              void identify();
            }}
          />
        ) : !caller ? (
          <p class="muted">{keyError ?? 'Connecting…'}</p>
        ) : route.page === 'task' ? (
          <TaskPageView api={api} caller={caller} taskId={route.taskId} />
        ) : (
          <>
            <Overview api={api} />
            <TaskList
              key={JSON.stringify(route.filters)}
              api={api}
              caller={caller}
              filters={route.filters}
              onFilters={(filters) => {
                const params = new URLSearchParams(Object.entries(filters).filter(([, value]) => value !== ''));
                location.hash = `#/?${params.toString()}`;
              }}
            />
          </>
        )}
      </main>
    </>
  );
}
