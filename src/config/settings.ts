/**
 * Every setting, in the order `--help`, docs/settings.md and `.env.example` list them. Each is
 * declared once, in the file of the roles that read it.
 */
import { MANAGER_SETTINGS } from './manager-settings.js';
import type { Role, Setting } from './setting-kinds.js';
import { SHARED_SETTINGS } from './shared-settings.js';
import {
  MANAGER_WEBHOOK_SETTINGS,
  SHARED_WEBHOOK_SETTINGS,
  WORKER_WEBHOOK_SETTINGS,
} from './webhook-settings.js';
import { WORKER_SETTINGS } from './worker-settings.js';

export type { Role, Setting } from './setting-kinds.js';
export {
  MANAGER_SETTINGS,
  MANAGER_WEBHOOK_SETTINGS,
  SHARED_SETTINGS,
  SHARED_WEBHOOK_SETTINGS,
  WORKER_SETTINGS,
  WORKER_WEBHOOK_SETTINGS,
};

export const SETTINGS: readonly Setting[] = Object.freeze([
  ...Object.values(SHARED_SETTINGS),
  ...Object.values(MANAGER_SETTINGS),
  ...Object.values(WORKER_SETTINGS),
  ...Object.values(SHARED_WEBHOOK_SETTINGS),
  ...Object.values(MANAGER_WEBHOOK_SETTINGS),
  ...Object.values(WORKER_WEBHOOK_SETTINGS),
]);

/** The settings a role reads. */
export function settingsOf(role: Role): readonly Setting[] {
  return SETTINGS.filter((setting) => setting.roles.includes(role));
}
