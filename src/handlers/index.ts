/** The job types this build knows, and loading a user's own. */

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { hashHandler } from './hash.js';
import { metricsHandler } from './host-metrics.js';
import { type SimulateDefaults, simulateHandler } from './simulate.js';
import { summaryHandler } from './summary.js';
import type { Handler, HandlerRegistry } from './types.js';

export {
  HASH_ALGORITHM,
  HASH_ALGORITHMS,
  HASH_ENCODING,
  HASH_ENCODINGS,
  type HashEncoding,
  hashPayload,
} from './hash.js';
export type { Handler, HandlerContext, HandlerRegistry } from './types.js';

export const DEFAULT_JOB_TYPE = 'hash';
export const BUILTIN_TYPES = ['hash', 'simulate', 'metrics', 'summary'] as const;
/** The type of a group's completion job when `on_complete` names none. */
export const DEFAULT_ON_COMPLETE_TYPE = 'summary';
/** A job type is also a beanstalkd tube name (after the prefix). */
export const JOB_TYPE = /^[a-z][a-z0-9_-]{0,62}$/;

export interface BuiltinOptions {
  workerName: string;
  simulate: SimulateDefaults;
}

export function builtinHandlers(
  options: BuiltinOptions = { workerName: 'worker', simulate: { meanMs: 100, failRate: 0 } },
): HandlerRegistry {
  return new Map<string, Handler>([
    ['hash', hashHandler],
    ['simulate', simulateHandler(options.simulate)],
    ['metrics', metricsHandler(options.workerName)],
    ['summary', summaryHandler],
  ]);
}

/**
 * Loads a module whose exports map type names to handlers (named exports, or a default
 * export that is such an object), and merges it over the built-ins. Throws with every
 * problem found.
 */
export async function loadHandlers(path: string, base: HandlerRegistry): Promise<HandlerRegistry> {
  const module = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  const exported =
    module.default !== null && typeof module.default === 'object'
      ? (module.default as Record<string, unknown>)
      : module;
  const merged = new Map(base);
  const problems: string[] = [];
  for (const [name, value] of Object.entries(exported)) {
    if (name === 'default') continue;
    if (!JOB_TYPE.test(name))
      problems.push(`export ${name}: a job type is lower-case letters, digits, _ and - (at most 63)`);
    else if (typeof value !== 'function') problems.push(`export ${name} is not a function`);
    else merged.set(name, value as Handler);
  }
  if (problems.length > 0) throw new Error(`handlers in ${path}:\n  - ${problems.join('\n  - ')}`);
  if (merged.size === base.size && Object.keys(exported).filter((k) => k !== 'default').length === 0) {
    throw new Error(`handlers in ${path}: the module exports no handlers`);
  }
  return merged;
}

/** Keeps only the types asked for; every one must exist. */
export function selectTypes(registry: HandlerRegistry, types: readonly string[]): HandlerRegistry {
  if (types.length === 0) return registry;
  const missing = types.filter((type) => !registry.has(type));
  if (missing.length > 0)
    throw new Error(
      `no handler for type(s) ${missing.join(', ')}; known: ${[...registry.keys()].join(', ')}`,
    );
  return new Map(types.map((type) => [type, registry.get(type)!]));
}
