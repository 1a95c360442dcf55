/**
 * How a setting is declared: its kind (int, number, bool, choice, text, secret, list, range)
 * with the kind's bounds, its default, its flag and its description, once. The reader
 * (reader.ts) parses by the kind, `--help`, docs/settings.md and `.env.example`
 * (describe-settings.ts) render it. Descriptions may hold `code` spans; plain-text renderings
 * drop the backticks.
 */

export type Role = 'manager' | 'worker';

interface Common {
  /** The CLI flag, without its dashes. */
  flag: string;
  description: string;
}

/** A whole number within bounds (`/^\d+$/`: no sign, no junk). */
export interface IntSpec extends Common {
  kind: 'int';
  default: number;
  min: number;
  max: number;
}

/** A non-negative decimal within bounds. */
export interface NumberSpec extends Common {
  kind: 'number';
  default: number;
  min: number;
  max: number;
}

/** `true`/`1`/`yes` or `false`/`0`/`no`; the flag takes no value (`--pretty`). */
export interface BoolSpec extends Common {
  kind: 'bool';
  default: boolean;
}

/** One of a fixed list of words. */
export interface ChoiceSpec<C extends string = string> extends Common {
  kind: 'choice';
  default: C;
  choices: readonly C[];
}

/** Free text, matched against `pattern` when one is given (`rule` says what it allows). */
export interface TextSpec extends Common {
  kind: 'text';
  default: string;
  pattern?: RegExp;
  rule?: string;
}

/** Text that is never echoed in a problem (it may hold a password or a key). */
export interface SecretSpec extends Common {
  kind: 'secret';
  default: string;
}

/** Comma-separated items, blanks dropped, each matched against `item`. */
export interface ListSpec extends Common {
  kind: 'list';
  default: readonly string[];
  item: RegExp;
  /** What a bad item is said to be: `"Hash" is not a job type`. */
  itemRule: string;
}

/** `N` or `MIN-MAX`, each from 0 to `max`. */
export interface RangeSpec extends Common {
  kind: 'range';
  default: { min: number; max: number };
  max: number;
}

export type SettingSpec =
  | IntSpec
  | NumberSpec
  | BoolSpec
  | ChoiceSpec
  | TextSpec
  | SecretSpec
  | ListSpec
  | RangeSpec;

/** A declared setting: its spec, its environment variable, the roles that read it, its group. */
export type Setting<S extends SettingSpec = SettingSpec> = S & {
  env: string;
  roles: readonly Role[];
  /** The heading it is listed under in `.env.example`. */
  group: string;
};

type Fields<S extends SettingSpec> = Omit<S, 'kind'>;

export const int = (spec: Fields<IntSpec>): IntSpec => ({ kind: 'int', ...spec });
export const number = (spec: Fields<NumberSpec>): NumberSpec => ({ kind: 'number', ...spec });
export const bool = (spec: Fields<BoolSpec>): BoolSpec => ({ kind: 'bool', ...spec });
export const text = (spec: Fields<TextSpec>): TextSpec => ({ kind: 'text', ...spec });
export const secret = (spec: Fields<SecretSpec>): SecretSpec => ({ kind: 'secret', ...spec });
export const list = (spec: Fields<ListSpec>): ListSpec => ({ kind: 'list', ...spec });
export const range = (spec: Fields<RangeSpec>): RangeSpec => ({ kind: 'range', ...spec });
export const choice = <const C extends string>(
  spec: Omit<Fields<ChoiceSpec<C>>, 'default'> & { default: NoInfer<C> },
): ChoiceSpec<C> => ({ kind: 'choice', ...spec });

type Grouped<T extends Record<string, SettingSpec>> = { readonly [K in keyof T]: T[K] & { group: string } };

/** Puts each setting of `specs` under the heading `group`. */
export function group<T extends Record<string, SettingSpec>>(heading: string, specs: T): Grouped<T> {
  return Object.fromEntries(
    Object.entries(specs).map(([env, spec]) => [env, { ...spec, group: heading }]),
  ) as unknown as Grouped<T>;
}

type Declared<T extends Record<string, SettingSpec & { group: string }>> = {
  readonly [K in keyof T]: Readonly<T[K] & { env: K & string; roles: readonly Role[] }>;
};

/** Names each setting by its key (the environment variable) and gives it the roles that read it. */
export function declareSettings<T extends Record<string, SettingSpec & { group: string }>>(
  roles: readonly Role[],
  specs: T,
): Declared<T> {
  return Object.freeze(
    Object.fromEntries(
      Object.entries(specs).map(([env, spec]) => [env, Object.freeze({ ...spec, env, roles })]),
    ),
  ) as Declared<T>;
}

/** The default as it would be written in the environment. */
export function defaultText(setting: SettingSpec): string {
  switch (setting.kind) {
    case 'int':
    case 'number':
    case 'bool':
      return String(setting.default);
    case 'list':
      return setting.default.join(',');
    case 'range':
      return setting.default.min === setting.default.max
        ? String(setting.default.min)
        : `${setting.default.min}-${setting.default.max}`;
    default:
      return setting.default;
  }
}
