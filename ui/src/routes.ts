/** The dashboard's pages, addressed by the part of the URL after `#` (so /ui/ is one file). */

export type Page =
  | 'overview'
  | 'jobs'
  | 'job'
  | 'failed'
  | 'workers'
  | 'groups'
  | 'group'
  | 'schedules'
  | 'unknown';

export interface Route {
  page: Page;
  /** The job or group id in `#/jobs/<id>`, `#/groups/<id>`. */
  id?: string;
  params: URLSearchParams;
}

/** A job or group id: a UUID (the API checks it is a UUIDv7). */
export const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reads `#/jobs?state=failed`, `#/jobs/<id>`, … into a page, its id and its parameters. */
export function parseHash(hash: string): Route {
  const text = hash.replace(/^#/, '');
  const question = text.indexOf('?');
  const path = (question < 0 ? text : text.slice(0, question)).replace(/\/+$/, '');
  const params = new URLSearchParams(question < 0 ? '' : text.slice(question + 1));
  const parts = path.split('/').filter((part) => part !== '');
  const [first, second, ...more] = parts;
  if (more.length > 0) return { page: 'unknown', params };
  if (first === undefined) return { page: 'overview', params };
  if (first === 'jobs')
    return second === undefined ? { page: 'jobs', params } : { page: 'job', id: second, params };
  if (first === 'groups')
    return second === undefined ? { page: 'groups', params } : { page: 'group', id: second, params };
  if (second !== undefined) return { page: 'unknown', params };
  if (first === 'failed' || first === 'workers' || first === 'schedules') return { page: first, params };
  return { page: 'unknown', params };
}

/** `#/jobs?state=failed`: a page's address with the parameters that are set. */
export function pageHref(path: string, params: Record<string, string | undefined> = {}): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
  const text = query.toString();
  return `#${path}${text === '' ? '' : `?${text}`}`;
}
