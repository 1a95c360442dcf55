/** The one test of "a JSON object" (not null, not an array) for every parser that wants one. */

/** Whether `value` is an object with keys: not null, not an array. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The object that `text` holds, or null when `text` is not JSON or not an object. */
export function parseJsonObject(text: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return isJsonObject(value) ? value : null;
}
