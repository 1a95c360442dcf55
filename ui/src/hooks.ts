/** Reading the API from components: once, or again every few seconds, and again when the key changes. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, auth, call, describeError } from './api';

/** Re-renders when the API key changes; its version makes reads start again. */
export function useAuthVersion(): number {
  const [version, setVersion] = useState(auth.version());
  useEffect(() => auth.subscribe(() => setVersion(auth.version())), []);
  return version;
}

/** Re-renders on every change of the key or of what the API said about it (a 401). */
export function useAuthChanges(): void {
  const [, setChanges] = useState(0);
  useEffect(() => auth.subscribe(() => setChanges((n) => n + 1)), []);
}

export interface Read<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Reads again now. */
  reload(): void;
}

/**
 * Reads `path` (null: nothing yet), then again every `everyMs` when given — one read at a time,
 * each after the previous answered. A 401 stops the polling until a key is given.
 */
export function useRead<T>(path: string | null, everyMs?: number, accept?: readonly number[]): Read<T> {
  const version = useAuthVersion();
  const [tick, setTick] = useState(0);
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({
    loading: path !== null,
  });
  const shownPath = useRef(path);
  // Dependencies: `accept` is a constant per caller; `version` and `tick` are what make it read again.
  useEffect(() => {
    if (path === null) return;
    if (shownPath.current !== path) {
      shownPath.current = path;
      setState({ loading: true });
    }
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const controller = new AbortController();
    const once = async () => {
      let again = everyMs !== undefined;
      try {
        const data = await call<T>(path, { signal: controller.signal, ...(accept ? { accept } : {}) });
        if (!stopped) setState({ data, loading: false });
      } catch (error: unknown) {
        if (stopped) return;
        if (error instanceof ApiError && error.status === 401) again = false;
        setState((previous) => ({ data: previous.data, error, loading: false }));
      }
      if (!stopped && again) timer = setTimeout(once, everyMs);
    };
    void once();
    return () => {
      stopped = true;
      controller.abort();
      clearTimeout(timer);
    };
  }, [path, everyMs, version, tick]);
  return { ...state, data: state.data, error: state.error, reload: () => setTick((n) => n + 1) };
}

export interface ActionState {
  busy: boolean;
  /** What the last action was, and what came of it. */
  label?: string;
  answer?: unknown;
  error?: string;
}

/** A button's call: busy while it runs, then its answer or its error, shown beside it. */
export function useAction(): [ActionState, (label: string, act: () => Promise<unknown>) => Promise<void>] {
  const [state, setState] = useState<ActionState>({ busy: false });
  const run = async (label: string, act: () => Promise<unknown>) => {
    setState({ busy: true, label });
    try {
      const answer = await act();
      setState({ busy: false, label, answer });
    } catch (error: unknown) {
      setState({ busy: false, label, error: describeError(error) });
    }
  };
  return [state, run];
}

/** The current time, again every `everyMs`: relative times ("3 minutes ago") stay true. */
export function useNow(everyMs = 5000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
