/**
 * A matrix request's body checked and expanded: `{"template": {…}, "axes": {"browser":
 * ["chrome","firefox"], …}, "exclude": [{"browser": "firefox", "viewport": "mobile"}]}` into
 * the combinations no rule excludes, with every cost bounded before anything is built.
 */
import { AppError, ErrorCode } from '../../errors.js';
import { isJsonObject } from '../../json-object.js';
import { forbiddenKey, prototypeKeyPath } from '../http/read-json-body.js';

export type Value = string | number | boolean;
export type Combination = Record<string, Value>;

const AXIS_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_AXES = 10;
const MAX_VALUES = 100;
/**
 * What a matrix may cost before anything is built: the combinations it enumerates (the
 * product of its axis lengths) and the rule checks that takes (that product times the rules).
 * Checked first, so a 1 KB request cannot make the manager enumerate 10^7 combinations
 * (measured before these bounds: 7.6 s of blocked event loop and +700 MB RSS).
 */
const MAX_RULES = 1000;
const MAX_RULE_CHECKS = 2_000_000;
/** Bytes a matrix body may have beyond one job's payload (axes and rules). */
export const MATRIX_BODY_BYTES = 1024 * 1024;

function invalid(message: string): AppError {
  return new AppError(ErrorCode.INVALID_MATRIX, message);
}

export interface MatrixSpec {
  template: Record<string, unknown>;
  /** Axis name → its values, in the order sent. */
  axes: Map<string, Value[]>;
  exclude: Array<Map<string, Value[]>>;
  /** `on_complete` as sent, checked by the fan-out (on-complete.ts). */
  onComplete?: unknown;
}

function isValue(value: unknown): value is Value {
  return (
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

/**
 * The first key an object in this JSON text repeats, if any: JSON.parse keeps the last one
 * silently, so `{"axes": {"a": [1], "a": [2]}}` would lose an axis. `text` is valid JSON.
 */
export function repeatedKey(text: string): string | undefined {
  const objects: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let end = i + 1;
      let escaped = false;
      while (text.charCodeAt(end) !== 0x22) {
        if (text.charCodeAt(end) === 0x5c) {
          escaped = true;
          end += 1;
        }
        end += 1;
      }
      const keys = objects[objects.length - 1];
      if (expectKey && keys) {
        const key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b) {
      objects.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      objects.push(null);
    } else if (c === 0x7d || c === 0x5d) {
      objects.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      expectKey = objects[objects.length - 1] != null;
    }
  }
  return undefined;
}

/**
 * Checks the body of a matrix request (`text`: the body as sent, for repeated keys); with
 * `forbidPrototypeKeys`, a template holding a prototype key is FORBIDDEN_KEY, as a single
 * job's payload would be.
 */
export function parseMatrixSpec(
  value: unknown,
  text: string | undefined,
  payloadRules: { forbidPrototypeKeys: boolean },
): MatrixSpec {
  if (!isJsonObject(value)) throw invalid('send {"template", "axes", "exclude"?, "on_complete"?}');
  const repeated = text === undefined ? undefined : repeatedKey(text);
  if (repeated !== undefined)
    throw invalid(`the key ${JSON.stringify(repeated)} appears twice in one object`);
  const { template = {}, axes, exclude = [], on_complete: onComplete, ...rest } = value;
  if (Object.keys(rest).length > 0) throw invalid(`unknown field(s): ${Object.keys(rest).join(', ')}`);
  if (template === null || typeof template !== 'object' || Array.isArray(template))
    throw invalid('template must be an object');
  if (payloadRules.forbidPrototypeKeys) {
    const found = prototypeKeyPath(template, text ?? JSON.stringify(template), '$.template');
    if (found !== undefined) throw forbiddenKey(found);
  }
  if (axes === null || typeof axes !== 'object' || Array.isArray(axes))
    throw invalid('axes must be an object of arrays');
  const axisEntries = Object.entries(axes as Record<string, unknown>);
  if (axisEntries.length === 0 || axisEntries.length > MAX_AXES) throw invalid(`1 to ${MAX_AXES} axes`);
  const checkedAxes = new Map<string, Value[]>();
  for (const [name, values] of axisEntries) {
    if (!AXIS_NAME.test(name) || name === '__proto__')
      throw invalid(`axis name ${JSON.stringify(name)}: letters, digits and _ (not __proto__)`);
    if (
      !Array.isArray(values) ||
      values.length === 0 ||
      values.length > MAX_VALUES ||
      !values.every(isValue)
    ) {
      throw invalid(`axis ${name}: 1 to ${MAX_VALUES} strings, numbers or booleans`);
    }
    if (new Set(values).size !== values.length) throw invalid(`axis ${name} repeats a value`);
    checkedAxes.set(name, values);
  }
  if (!Array.isArray(exclude)) throw invalid('exclude must be an array of rules');
  if (exclude.length > MAX_RULES) throw invalid(`at most ${MAX_RULES} exclusion rules`);
  const rules = exclude.map((rule: unknown) => {
    if (rule === null || typeof rule !== 'object' || Array.isArray(rule) || Object.keys(rule).length === 0) {
      throw invalid('each exclusion rule is an object of axis → value(s)');
    }
    const checked = new Map<string, Value[]>();
    for (const [name, values] of Object.entries(rule as Record<string, unknown>)) {
      if (!checkedAxes.has(name)) throw invalid(`exclusion rule names an unknown axis ${name}`);
      const list: unknown[] = Array.isArray(values) ? values : [values];
      if (list.length === 0 || list.length > MAX_VALUES || !list.every(isValue))
        throw invalid(`exclusion rule for ${name}: 1 to ${MAX_VALUES} strings, numbers or booleans`);
      checked.set(name, list);
    }
    return checked;
  });
  return {
    template: template as Record<string, unknown>,
    axes: checkedAxes,
    exclude: rules,
    ...(onComplete !== undefined ? { onComplete } : {}),
  };
}

/**
 * Every combination of the axes that no rule excludes, in axis order (the last axis varies
 * fastest). Refuses, before enumerating anything, a matrix whose axes multiply past ten times
 * `max` or whose rules would take more than MAX_RULE_CHECKS checks; only kept combinations
 * are built, and the count stops at `max`.
 */
export function combinations(spec: MatrixSpec, max: number): { kept: Combination[]; excluded: number } {
  const names = [...spec.axes.keys()];
  const axes = names.map((name) => spec.axes.get(name) as Value[]);
  const product = axes.reduce((total, values) => total * values.length, 1);
  if (product > max * 10)
    throw invalid(
      `the axes make ${product} combinations; at most ${max * 10} before exclusions, ${max} after`,
    );
  if (product * spec.exclude.length > MAX_RULE_CHECKS) {
    throw invalid(
      `${product} combinations × ${spec.exclude.length} exclusion rules is more than ${MAX_RULE_CHECKS} checks`,
    );
  }
  // Each rule as, per axis it names, which of that axis's values it matches.
  const rules = spec.exclude.map((rule) =>
    names.flatMap((name, axis) => {
      const listed = rule.get(name);
      if (!listed) return [];
      return [{ axis, matches: (axes[axis] as Value[]).map((v) => listed.includes(v)) }];
    }),
  );
  const digits = new Array<number>(axes.length).fill(0);
  const kept: Combination[] = [];
  for (let n = 0; n < product; n += 1) {
    const excluded = rules.some((rule) => rule.every(({ axis, matches }) => matches[digits[axis] as number]));
    if (!excluded) {
      if (kept.length === max)
        throw invalid(`more than ${max} combinations after exclusions; at most ${max}`);
      const combo: Combination = {};
      for (let axis = 0; axis < axes.length; axis += 1) {
        Object.defineProperty(combo, names[axis] as string, {
          value: (axes[axis] as Value[])[digits[axis] as number],
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      kept.push(combo);
    }
    for (let axis = axes.length - 1; axis >= 0; axis -= 1) {
      digits[axis] = (digits[axis] as number) + 1;
      if ((digits[axis] as number) < (axes[axis] as Value[]).length) break;
      digits[axis] = 0;
    }
  }
  if (kept.length === 0) throw invalid('every combination is excluded');
  return { kept, excluded: product - kept.length };
}
