/**
 * The API as the dashboard calls it: the same origin (and path prefix) it was served from, JSON
 * answers, and the API key — when one is needed — from this tab's sessionStorage, sent as
 * `Authorization: Bearer`. A key never goes into a URL, and nothing here logs.
 */

const KEY_ITEM = 'distributed-workers.api-key';

/** The API's root: /ui/ is served beside it, so strip `ui/...` from the page's path. */
export const API_BASE = location.pathname.replace(/ui\/[^/]*$/, '');

/** The API's own address, for the curl commands shown (never with a key). */
export const API_ORIGIN = `${location.origin}${API_BASE}`;

/** An answer other than 2xx: its status and the API's stable error code and message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** Why the API wants a key: none was sent, or the one sent was refused. */
export type KeyProblem = 'missing' | 'refused';

function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_ITEM);
  } catch {
    return null;
  }
}

let key: string | null = storedKey();
let problem: KeyProblem | null = null;
/** Bumped when the key changes: pages read again. */
let version = 0;
const listeners = new Set<() => void>();

function changed(): void {
  for (const listener of listeners) listener();
}

/** The API key the dashboard sends, and what the API last said about it. */
export const auth = {
  hasKey: (): boolean => key !== null,
  problem: (): KeyProblem | null => problem,
  version: (): number => version,
  /** Kept for this tab only (sessionStorage): gone when the tab closes. */
  use(value: string): void {
    key = value;
    try {
      sessionStorage.setItem(KEY_ITEM, value);
    } catch {
      // Storage refused (private mode, a policy): the key lives in this page only.
    }
    problem = null;
    version += 1;
    changed();
  },
  forget(): void {
    key = null;
    try {
      sessionStorage.removeItem(KEY_ITEM);
    } catch {
      // Nothing was stored.
    }
    problem = null;
    version += 1;
    changed();
  },
  /** Calls `listener` when the key or its problem changes; returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

/** The headers every API call carries: the key, when there is one. */
export function authHeaders(): Record<string, string> {
  return key === null ? {} : { Authorization: `Bearer ${key}` };
}

/** Records a 401: the page shows the key form, saying whether a key was missing or refused. */
export function unauthorized(): ApiError {
  const next: KeyProblem = key === null ? 'missing' : 'refused';
  if (problem !== next) {
    problem = next;
    changed();
  }
  return new ApiError(
    401,
    'UNAUTHORIZED',
    next === 'missing' ? 'this needs an API key' : 'the API key was refused',
  );
}

/** Turns a path into the API's URL: `stats` → `/stats` (or `/prefix/stats` behind a proxy). */
export function apiUrl(path: string): string {
  return `${API_BASE}${path.replace(/^\//, '')}`;
}

export interface CallOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  /** Statuses other than 2xx whose JSON body is the answer (GET /readyz answers 503 with one). */
  accept?: readonly number[];
  signal?: AbortSignal;
}

/** One API call; its JSON answer, or an ApiError with the API's code and message. */
export async function call<T>(path: string, options: CallOptions = {}): Promise<T> {
  const response = await fetch(apiUrl(path), {
    method: options.method ?? 'GET',
    headers: { Accept: 'application/json', ...authHeaders() },
    cache: 'no-store',
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (response.status === 401) throw unauthorized();
  const body: unknown = await response.json().catch(() => null);
  if (response.ok || options.accept?.includes(response.status)) return body as T;
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  throw new ApiError(
    response.status,
    typeof error?.code === 'string' ? error.code : `HTTP_${response.status}`,
    typeof error?.message === 'string' ? error.message : response.statusText || 'no answer',
  );
}

/** A short text for any error a call may throw. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.status} ${error.code}: ${error.message}`;
  if (error instanceof Error) return error.message;
  return String(error);
}
