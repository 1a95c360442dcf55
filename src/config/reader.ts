/**
 * Reads declared settings from an environment by their kind, collecting every problem rather
 * than stopping at the first, so a bad configuration is reported whole.
 */
import {
  type BoolSpec,
  type ChoiceSpec,
  defaultText,
  type IntSpec,
  type ListSpec,
  type NumberSpec,
  type RangeSpec,
  type SettingSpec,
  type TextSpec,
} from './setting-kinds.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** Every bad value of a configuration, each a line naming its variable. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Named = { env: string };

/** What reading a setting of each kind gives. */
export type ValueOf<S extends SettingSpec> = S extends IntSpec | NumberSpec
  ? number
  : S extends BoolSpec
    ? boolean
    : S extends ChoiceSpec<infer C>
      ? C
      : S extends ListSpec
        ? string[]
        : S extends RangeSpec
          ? { min: number; max: number }
          : string;

export class SettingsReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  /** The value's text: the environment's, trimmed, or (unset or empty) the default's. */
  text(setting: SettingSpec & Named): string {
    const value = this.env[setting.env];
    return value === undefined || value === '' ? defaultText(setting) : value.trim();
  }

  /** Set to anything, even blanks (which text() trims away): "set" and "unset" can differ in meaning. */
  given(setting: Named): boolean {
    const value = this.env[setting.env];
    return value !== undefined && value !== '';
  }

  /** The setting's value, parsed and checked by its kind; a bad one is noted and a safe value returned. */
  read<S extends SettingSpec & Named>(setting: S): ValueOf<S> {
    return this.parse(setting) as ValueOf<S>;
  }

  /** Checks a value worked out from a text setting (its default made concrete) against its pattern. */
  check(setting: TextSpec & Named, value: string): string {
    if (setting.pattern !== undefined && !setting.pattern.test(value)) {
      this.problems.push(`${setting.env} ${setting.rule ?? 'is not valid'} (got ${JSON.stringify(value)})`);
    }
    return value;
  }

  private parse(setting: SettingSpec & Named): ValueOf<SettingSpec> {
    const name = setting.env;
    const text = this.text(setting);
    switch (setting.kind) {
      case 'int': {
        const value = Number(text);
        if (
          !/^\d+$/.test(text) ||
          !Number.isSafeInteger(value) ||
          value < setting.min ||
          value > setting.max
        ) {
          this.problems.push(
            `${name} must be an integer from ${setting.min} to ${setting.max} (got ${JSON.stringify(text)})`,
          );
          return setting.min;
        }
        return value;
      }
      case 'number': {
        const value = Number(text);
        if (!/^\d+(\.\d+)?$/.test(text) || value < setting.min || value > setting.max) {
          this.problems.push(
            `${name} must be a number from ${setting.min} to ${setting.max} (got ${JSON.stringify(text)})`,
          );
          return setting.min;
        }
        return value;
      }
      case 'bool': {
        const word = text.toLowerCase();
        if (['true', '1', 'yes'].includes(word)) return true;
        if (['false', '0', 'no'].includes(word)) return false;
        this.problems.push(`${name} must be true or false (got ${JSON.stringify(word)})`);
        return false;
      }
      case 'choice':
        if (!setting.choices.includes(text)) {
          this.problems.push(
            `${name} must be one of ${setting.choices.join(', ')} (got ${JSON.stringify(text)})`,
          );
        }
        return text;
      case 'list': {
        const items = text
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item !== '');
        for (const item of items) {
          if (!setting.item.test(item))
            this.problems.push(`${name}: ${JSON.stringify(item)} ${setting.itemRule}`);
        }
        return items;
      }
      case 'range':
        return this.range(setting, text);
      case 'text':
        return this.check(setting, text);
      case 'secret':
        return text;
    }
  }

  private range(setting: RangeSpec & Named, text: string): { min: number; max: number } {
    const match = /^(\d+)(?:-(\d+))?$/.exec(text);
    const min = Number(match?.[1]);
    const max = match?.[2] === undefined ? min : Number(match[2]);
    if (!match || min > setting.max || max > setting.max) {
      this.problems.push(
        `${setting.env} must be N or MIN-MAX, each from 0 to ${setting.max} (got ${JSON.stringify(text)})`,
      );
      return { min: 0, max: 0 };
    }
    if (max < min) this.problems.push(`${setting.env}: ${max} is below ${min}`);
    return { min, max };
  }
}
