import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode } from '../../../../src/errors.js';
import {
  type Combination,
  combinations,
  type MatrixSpec,
  parseMatrixSpec,
  repeatedKey,
  type Value,
} from '../../../../src/manager/groups/matrix-spec.js';

const RULES = { forbidPrototypeKeys: true };

/** Parses a body as the manager does: the value and the text it came from. */
function parse(text: string, rules = RULES): MatrixSpec {
  return parseMatrixSpec(JSON.parse(text), text, rules);
}

function invalidMatrix(message: RegExp) {
  return { name: 'AppError', code: ErrorCode.INVALID_MATRIX, status: 400, message };
}

/** A spec straight from axes and rules, for the combination checks. */
function spec(axes: Record<string, Value[]>, exclude: Array<Record<string, Value[]>> = []): MatrixSpec {
  return {
    template: {},
    axes: new Map(Object.entries(axes)),
    exclude: exclude.map((rule) => new Map(Object.entries(rule))),
  };
}

describe('matrix spec (manager/groups/matrix-spec)', () => {
  describe('parseMatrixSpec', () => {
    it('when a body is well formed, then axes keep the order sent and a rule value alone becomes a list', () => {
      const result = parse(
        '{"template":{"url":"/a"},"axes":{"browser":["chrome","firefox"],"width":[320,1024],"dark":[true,false]},"exclude":[{"browser":"firefox","width":[320,1024]}]}',
      );

      assert.deepEqual(result.template, { url: '/a' });
      assert.deepEqual(
        [...result.axes],
        [
          ['browser', ['chrome', 'firefox']],
          ['width', [320, 1024]],
          ['dark', [true, false]],
        ],
      );
      assert.deepEqual(
        result.exclude.map((rule) => [...rule]),
        [
          [
            ['browser', ['firefox']],
            ['width', [320, 1024]],
          ],
        ],
      );
    });

    it('when template and exclude are left out, then the template is {} and there are no rules', () => {
      const result = parse('{"axes":{"a":[1]}}');

      assert.deepEqual(result.template, {});
      assert.deepEqual(result.exclude, []);
    });

    it('when the body is not an object, then it is INVALID_MATRIX', () => {
      for (const value of [null, [], 'axes', 3, true]) {
        assert.throws(
          () => parseMatrixSpec(value, undefined, RULES),
          invalidMatrix(/^send \{"template", "axes", "exclude"\?, "on_complete"\?\}$/),
          JSON.stringify(value),
        );
      }
    });

    it('when an object in the text repeats a key, then it is INVALID_MATRIX naming the key', () => {
      assert.throws(
        () => parse('{"axes":{"a":[1],"b":[2],"a":[3]}}'),
        invalidMatrix(/^the key "a" appears twice in one object$/),
      );
      // Without the text the check cannot be made; the parsed value keeps the last one.
      const parsed = JSON.parse('{"axes":{"a":[1],"a":[3]}}') as unknown;
      assert.deepEqual([...parseMatrixSpec(parsed, undefined, RULES).axes], [['a', [3]]]);
    });

    it('when a field is unknown, then it is INVALID_MATRIX listing every one', () => {
      assert.throws(
        () => parse('{"axes":{"a":[1]},"exlude":[],"tmpl":{}}'),
        invalidMatrix(/^unknown field\(s\): exlude, tmpl$/),
      );
    });

    it('when the template is not an object, then it is INVALID_MATRIX', () => {
      for (const template of ['null', '[]', '"x"', '1']) {
        assert.throws(
          () => parse(`{"template":${template},"axes":{"a":[1]}}`),
          invalidMatrix(/^template must be an object$/),
          template,
        );
      }
    });

    it('when the template holds a prototype key, then it is FORBIDDEN_KEY unless prototype keys are allowed', () => {
      const text = '{"template":{"x":{"__proto__":{"polluted":true}}},"axes":{"a":[1]}}';

      assert.throws(() => parse(text), {
        code: ErrorCode.FORBIDDEN_KEY,
        message: /found at \$\.template\.x\.__proto__\)$/,
      });
      const allowed = parse(text, { forbidPrototypeKeys: false });
      assert.deepEqual(Object.keys(allowed.template.x as object), ['__proto__']);
    });

    it('when axes are missing or not an object, then it is INVALID_MATRIX', () => {
      for (const body of ['{}', '{"axes":null}', '{"axes":[["a",1]]}', '{"axes":"a"}']) {
        assert.throws(() => parse(body), invalidMatrix(/^axes must be an object of arrays$/), body);
      }
    });

    it('when there are no axes or more than ten, then it is INVALID_MATRIX; ten are taken', () => {
      const axes = (count: number) =>
        JSON.stringify({ axes: Object.fromEntries(Array.from({ length: count }, (_, i) => [`a${i}`, [i]])) });

      assert.equal(parse(axes(10)).axes.size, 10);
      assert.throws(() => parse(axes(0)), invalidMatrix(/^1 to 10 axes$/));
      assert.throws(() => parse(axes(11)), invalidMatrix(/^1 to 10 axes$/));
    });

    it('when an axis name is not letters, digits and _ starting with no digit, at most 64, or is __proto__, then it is INVALID_MATRIX', () => {
      const longest = `_${'a'.repeat(63)}`;
      assert.deepEqual([...parse(JSON.stringify({ axes: { [longest]: [1] } })).axes.keys()], [longest]);
      for (const name of ['', '1a', 'a-b', 'a b', 'é', `${longest}b`, '__proto__']) {
        assert.throws(
          () => parse(`{"axes":{${JSON.stringify(name)}:[1]}}`),
          invalidMatrix(/^axis name .*: letters, digits and _ \(not __proto__\)$/),
          JSON.stringify(name),
        );
      }
    });

    it('when an axis is not 1 to 100 strings, finite numbers or booleans, then it is INVALID_MATRIX', () => {
      const hundred = Array.from({ length: 100 }, (_, i) => i);
      assert.equal(parse(JSON.stringify({ axes: { a: hundred } })).axes.get('a')?.length, 100);
      for (const values of [
        '[]',
        '1',
        '"a"',
        '{}',
        '[null]',
        '[[1]]',
        '[{"v":1}]',
        JSON.stringify([...hundred, 100]),
      ]) {
        assert.throws(
          () => parse(`{"axes":{"a":${values}}}`),
          invalidMatrix(/^axis a: 1 to 100 strings, numbers or booleans$/),
          values,
        );
      }
      assert.throws(
        () => parseMatrixSpec({ axes: { a: [1, Number.POSITIVE_INFINITY] } }, undefined, RULES),
        invalidMatrix(/^axis a: 1 to 100/),
        'a value JSON cannot carry, from a caller that did not parse JSON',
      );
    });

    it('when an axis repeats a value, then it is INVALID_MATRIX; a string and a number that print alike are distinct', () => {
      assert.throws(() => parse('{"axes":{"a":[1,2,1]}}'), invalidMatrix(/^axis a repeats a value$/));
      assert.deepEqual(parse('{"axes":{"a":["1",1,true,"true"]}}').axes.get('a'), ['1', 1, true, 'true']);
    });

    it('when exclude is not an array of at most 1000 rules, then it is INVALID_MATRIX', () => {
      const rules = (count: number) =>
        JSON.stringify({ axes: { a: [1, 2] }, exclude: Array(count).fill({ a: 1 }) });

      assert.equal(parse(rules(1000)).exclude.length, 1000);
      assert.throws(() => parse(rules(1001)), invalidMatrix(/^at most 1000 exclusion rules$/));
      assert.throws(
        () => parse('{"axes":{"a":[1]},"exclude":{"a":1}}'),
        invalidMatrix(/^exclude must be an array of rules$/),
      );
    });

    it('when a rule is not a non-empty object, names an unknown axis, or has bad values, then it is INVALID_MATRIX', () => {
      const cases: Array<[string, RegExp]> = [
        ['{}', /^each exclusion rule is an object of axis → value\(s\)$/],
        ['null', /^each exclusion rule is an object/],
        ['[{"a":1}]', /^each exclusion rule is an object/],
        ['"a"', /^each exclusion rule is an object/],
        ['{"b":1}', /^exclusion rule names an unknown axis b$/],
        ['{"a":[]}', /^exclusion rule for a: 1 to 100 strings, numbers or booleans$/],
        ['{"a":null}', /^exclusion rule for a: 1 to 100/],
        ['{"a":[{"x":1}]}', /^exclusion rule for a: 1 to 100/],
        [`{"a":${JSON.stringify(Array(101).fill(1))}}`, /^exclusion rule for a: 1 to 100/],
      ];
      for (const [rule, message] of cases) {
        assert.throws(() => parse(`{"axes":{"a":[1,2]},"exclude":[${rule}]}`), invalidMatrix(message), rule);
      }
    });
  });

  describe('repeatedKey', () => {
    it('when keys repeat only across different objects or inside strings, then none is reported', () => {
      assert.equal(repeatedKey('{"a":{"a":1},"b":[{"a":1},{"a":2}],"c":"{\\"c\\":1,\\"c\\":2}"}'), undefined);
      assert.equal(repeatedKey('[1,"a","a"]'), undefined);
    });

    it('when one object repeats a key, however it is spelled, then that key is reported', () => {
      assert.equal(repeatedKey('{"x":1,"y":{"k":1,"k":2}}'), 'k');
      assert.equal(repeatedKey('{"a":1,"\\u0061":2}'), 'a');
      assert.equal(repeatedKey('[{"ok":1},{"z":[1,{}],"z":0}]'), 'z');
    });
  });

  describe('combinations', () => {
    it('when nothing is excluded, then every combination comes in axis order with the last axis varying fastest', () => {
      const result = combinations(spec({ a: [1, 2], b: ['x', 'y', 'z'] }), 100);

      assert.deepEqual(result, {
        kept: [
          { a: 1, b: 'x' },
          { a: 1, b: 'y' },
          { a: 1, b: 'z' },
          { a: 2, b: 'x' },
          { a: 2, b: 'y' },
          { a: 2, b: 'z' },
        ],
        excluded: 0,
      });
    });

    it('when a rule names several axes, then only combinations matching every one of them are excluded', () => {
      const result = combinations(
        spec({ browser: ['chrome', 'firefox', 'safari'], viewport: ['mobile', 'desktop'] }, [
          { browser: ['firefox', 'safari'], viewport: ['mobile'] },
          { browser: ['chrome'] },
        ]),
        100,
      );

      assert.deepEqual(result, {
        kept: [
          { browser: 'firefox', viewport: 'desktop' },
          { browser: 'safari', viewport: 'desktop' },
        ],
        excluded: 4,
      });
    });

    it('when the axes multiply past ten times the maximum, then it is INVALID_MATRIX before anything is built; exactly ten times is allowed', () => {
      const twenty = Array.from({ length: 20 }, (_, i) => i);
      const keepTwo = [{ n: twenty.slice(2) }];

      assert.equal(combinations(spec({ n: twenty }, keepTwo), 2).kept.length, 2);
      assert.throws(
        () => combinations(spec({ n: [...twenty, 20] }, [{ n: [...twenty.slice(2), 20] }]), 2),
        invalidMatrix(/^the axes make 21 combinations; at most 20 before exclusions, 2 after$/),
      );
    });

    it('when combinations times rules pass two million checks, then it is INVALID_MATRIX; exactly two million is allowed', () => {
      const hundred = Array.from({ length: 100 }, (_, i) => i);
      const rules = (count: number) => Array.from({ length: count }, (_, i) => ({ a: [i % 100], b: [0] }));

      const allowed = combinations(spec({ a: hundred, b: hundred }, rules(200)), 10_000);
      assert.equal(allowed.excluded, 100);
      assert.throws(
        () => combinations(spec({ a: hundred, b: hundred }, rules(201)), 10_000),
        invalidMatrix(/^10000 combinations × 201 exclusion rules is more than 2000000 checks$/),
      );
    });

    it('when more combinations than the maximum are left after exclusions, then it is INVALID_MATRIX', () => {
      assert.equal(combinations(spec({ a: [1, 2, 3] }), 3).kept.length, 3);
      assert.throws(
        () => combinations(spec({ a: [1, 2, 3, 4] }, [{ a: [4] }]), 2),
        invalidMatrix(/^more than 2 combinations after exclusions; at most 2$/),
      );
    });

    it('when every combination is excluded, then it is INVALID_MATRIX', () => {
      assert.throws(
        () => combinations(spec({ a: [1, 2], b: [true] }, [{ b: [true] }]), 10),
        invalidMatrix(/^every combination is excluded$/),
      );
    });

    it('when any small matrix is expanded, then the kept combinations are exactly those no rule matches, in order, and the counts add up', () => {
      const axisValues = fc.uniqueArray(
        fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom('x', 'y', true)),
        {
          minLength: 1,
          maxLength: 4,
        },
      );
      const matrix = fc.array(axisValues, { minLength: 1, maxLength: 4 }).chain((axes) => {
        const names = axes.map((_, i) => `axis${i}`);
        const rule = fc
          .subarray(
            names.map((name, i) => [name, i] as const),
            { minLength: 1 },
          )
          .chain((picked) =>
            fc.tuple(
              ...picked.map(([name, i]) =>
                fc.subarray(axes[i] as Value[], { minLength: 1 }).map((values) => [name, values] as const),
              ),
            ),
          )
          .map((entries) => Object.fromEntries(entries) as Record<string, Value[]>);
        return fc.tuple(
          fc.constant(Object.fromEntries(names.map((name, i) => [name, axes[i] as Value[]]))),
          fc.array(rule, { maxLength: 4 }),
        );
      });

      fc.assert(
        fc.property(matrix, ([axes, rules]) => {
          // The oracle: every combination by brute force, in the same order, and whether a rule matches it.
          let all: Combination[] = [{}];
          for (const [name, values] of Object.entries(axes)) {
            all = all.flatMap((combo) => values.map((value) => ({ ...combo, [name]: value })));
          }
          const matched = (combo: Combination) =>
            rules.some((rule) =>
              Object.entries(rule).every(([name, values]) => values.includes(combo[name] as Value)),
            );
          const expected = all.filter((combo) => !matched(combo));

          const run = () => combinations(spec(axes, rules), 1000);

          if (expected.length === 0) {
            assert.throws(run, invalidMatrix(/^every combination is excluded$/));
            return;
          }
          const result = run();
          assert.deepEqual(result.kept, expected);
          assert.equal(result.excluded, all.length - expected.length);
        }),
      );
    });
  });
});
