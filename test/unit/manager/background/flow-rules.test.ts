/** The flow rules with no server: reading depends_on, and what parents' outcomes make of a child. */
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../../src/errors.js';
import { newJobId } from '../../../../src/jobs/job-id.js';
import { parentsVerdict, waiterDelaySeconds } from '../../../../src/manager/background/flow-rules.js';
import { parseFlow } from '../../../../src/manager/jobs/accept/options.js';
import type { FlowSpec, ParentFailurePolicy, ResultDocument } from '../../../../src/store/index.js';

const given = (values: Record<string, string>) => (name: string) => values[name];

const flowOf = (dependsOn: string[], onParentFailure: ParentFailurePolicy): FlowSpec => ({
  dependsOn,
  onParentFailure,
});

function ended(id: string, outcome: ResultDocument['outcome']): ResultDocument {
  const at = new Date();
  return {
    _id: id,
    type: 'hash',
    outcome,
    worker: 'w',
    attempt: 1,
    startedAt: at,
    finishedAt: at,
    durationMs: 0,
  };
}

describe('flow rules (manager/jobs/options parseFlow, manager/background/flow-loop)', () => {
  it('when depends_on lists distinct job ids, then they are kept in order with the policy (fail by default)', () => {
    const [a, b] = [newJobId(), newJobId()];
    assert.deepEqual(parseFlow(given({ depends_on: `${a}, ${b.toUpperCase()}` })), {
      dependsOn: [a, b],
      onParentFailure: 'fail',
    });
    assert.equal(parseFlow(given({ depends_on: a, on_parent_failure: 'run' }))?.onParentFailure, 'run');
    assert.equal(parseFlow(given({})), undefined);
  });

  it('when depends_on is malformed, repeats an id, names over 100, or the policy comes alone or unknown, then INVALID_DEPENDS_ON', () => {
    const a = newJobId();
    const bad: Array<Record<string, string>> = [
      { depends_on: 'x' },
      { depends_on: `${a},` },
      { depends_on: `${a},${a}` },
      { depends_on: Array.from({ length: 101 }, () => newJobId()).join(',') },
      { on_parent_failure: 'fail' },
      { depends_on: a, on_parent_failure: 'ignore' },
    ];
    for (const values of bad) {
      assert.throws(
        () => parseFlow(given(values)),
        { code: ErrorCode.INVALID_DEPENDS_ON },
        JSON.stringify(values).slice(0, 80),
      );
    }
    assert.equal(
      parseFlow(given({ depends_on: Array.from({ length: 100 }, () => newJobId()).join(',') }))?.dependsOn
        .length,
      100,
    );
  });

  it('when parents end, then the child is released, ended or kept waiting as its policy says', () => {
    const [a, b] = [newJobId(), newJobId()];
    const fail = flowOf([a, b], 'fail');
    assert.deepEqual(parentsVerdict(fail, [ended(a, 'completed'), null]), { wait: true });
    assert.deepEqual(parentsVerdict(fail, [ended(a, 'completed'), ended(b, 'completed')]), { release: true });
    assert.deepEqual(parentsVerdict(fail, [null, ended(b, 'failed')]), {
      end: { outcome: 'failed', error: { message: `parent ${b} failed` } },
    });
    assert.deepEqual(parentsVerdict(fail, [ended(a, 'cancelled'), null]), {
      end: { outcome: 'cancelled', error: { message: `parent ${a} cancelled` } },
    });
    const cancel = flowOf([a], 'cancel');
    assert.deepEqual(parentsVerdict(cancel, [ended(a, 'failed')]), {
      end: { outcome: 'cancelled', error: { message: `parent ${a} failed` } },
    });
    const run = flowOf([a, b], 'run');
    assert.deepEqual(parentsVerdict(run, [ended(a, 'failed'), null]), { wait: true });
    assert.deepEqual(parentsVerdict(run, [ended(a, 'failed'), ended(b, 'cancelled')]), { release: true });
  });

  it('when a waiter is looked at again and again, then its delay doubles from 1 s to at most 30 s', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 20].map(waiterDelaySeconds), [1, 2, 4, 8, 16, 30, 30, 30]);
  });
});
