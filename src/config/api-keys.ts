/** API_KEYS and API_KEYS_FILE: `name:key` entries, checked without ever echoing a key. */
import { MANAGER_SETTINGS } from './manager-settings.js';
import type { SettingsReader } from './reader.js';

export interface ApiKey {
  name: string;
  key: string;
}

/**
 * Parses `name:key` entries; never echoes a key in a problem. A setting that is set must yield
 * a key: an empty secret file or `API_KEYS=","` would otherwise turn auth off without a word.
 * Only unset (or empty) API_KEYS and API_KEYS_FILE mean "no auth".
 */
export function readApiKeys(r: SettingsReader, readFile: (path: string) => string): ApiKey[] {
  const { API_KEYS, API_KEYS_FILE } = MANAGER_SETTINGS;
  const sources: Array<{ setting: string; entries: string[] }> = [];
  if (r.given(API_KEYS)) {
    sources.push({ setting: 'API_KEYS', entries: r.read(API_KEYS).split(/[,\n]/) });
  }
  const file = r.read(API_KEYS_FILE);
  if (r.given(API_KEYS_FILE) && file === '') {
    r.problems.push('API_KEYS_FILE is set but names no file; unset it for no auth');
  } else if (file !== '') {
    try {
      sources.push({ setting: `API_KEYS_FILE ${JSON.stringify(file)}`, entries: readFile(file).split('\n') });
    } catch {
      r.problems.push(`API_KEYS_FILE ${JSON.stringify(file)} cannot be read`);
    }
  }
  const keys: ApiKey[] = [];
  let index = 0;
  for (const { setting, entries } of sources) {
    let found = 0;
    for (const raw of entries) {
      index += 1;
      const entry = raw.trim();
      if (entry === '' || entry.startsWith('#')) continue;
      found += 1;
      const colon = entry.indexOf(':');
      const name = colon > 0 ? entry.slice(0, colon).trim() : '';
      const key = colon > 0 ? entry.slice(colon + 1).trim() : '';
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || !/^[\x21-\x7e]{16,256}$/.test(key)) {
        r.problems.push(
          `API key entry ${index} must be name:key, the name 1-64 of A-Z a-z 0-9 _ . -, the key 16-256 visible ASCII characters`,
        );
        continue;
      }
      if (keys.some((k) => k.name === name)) r.problems.push(`API key name ${name} appears twice`);
      keys.push({ name, key });
    }
    if (found === 0) {
      r.problems.push(
        `${setting} holds no name:key entry (only blanks, commas or # comments); unset it for no auth`,
      );
    }
  }
  return keys;
}
