/**
 * Public job ids: UUIDv7, minted by the manager. Unique without coordination and sortable
 * by creation time, so they serve as MongoDB `_id` and as the key in every URL.
 */
import { v7 as uuidv7 } from 'uuid';

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function newJobId(): string {
  return uuidv7();
}

/** When the id was minted: a UUIDv7 starts with its Unix time in milliseconds (48 bits). */
export function jobIdTime(id: string): Date {
  return new Date(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16));
}

/** The canonical (lower-case) id, or null when `value` is not a UUIDv7. */
export function parseJobId(value: unknown): string | null {
  if (typeof value !== 'string' || value.length !== 36) return null;
  const id = value.toLowerCase();
  return JOB_ID.test(id) ? id : null;
}
