/** How the manager watches its backends (manager/keep-trying). */
import assert from 'node:assert/strict';
import { mock } from 'node:test';
import { keepTrying, settlesWithin } from '../../../src/manager/keep-trying.js';
import { waitFor } from '../../support/harness.js';

describe('keep trying', () => {
  it('when a check fails, then succeeds, then fails again, then each change is told once and the failures are retried', async () => {
    const answers = [false, false, true, true, false, true];
    let calls = 0;
    const changes: boolean[] = [];
    const stop = keepTrying(
      async () => {
        const ok = answers[calls] ?? true;
        calls += 1;
        if (!ok) throw new Error('down');
      },
      1,
      1,
      (ok, error) => {
        changes.push(ok);
        assert.equal(error instanceof Error, !ok, 'a failure comes with its error, a success without');
      },
    );
    try {
      await waitFor('every answer used', () => calls >= answers.length + 1);
    } finally {
      stop();
    }
    assert.deepEqual(changes, [false, true, false, true]);
  });

  describe('on a mocked clock', () => {
    /** Lets the awaited check and what follows it run (setImmediate is not mocked). */
    const settleTurns = async () => {
      for (let i = 0; i < 3; i += 1) await new Promise((resolve) => setImmediate(resolve));
    };
    beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
    afterEach(() => mock.timers.reset());

    it('when it succeeds with no period, then it calls no more', async () => {
      let calls = 0;
      keepTrying(
        async () => {
          calls += 1;
        },
        10,
        null,
        () => undefined,
      );
      await settleTurns();
      mock.timers.tick(60_000);
      await settleTurns();
      assert.equal(calls, 1);
    });

    it('when it is stopped while failing, then it retries no more', async () => {
      let calls = 0;
      const stop = keepTrying(
        async () => {
          calls += 1;
          throw new Error('down');
        },
        10,
        null,
        () => undefined,
      );
      await settleTurns();
      mock.timers.tick(10);
      await settleTurns();
      assert.equal(calls, 2, 'retried after retryMs');

      stop();
      mock.timers.tick(60_000);
      await settleTurns();
      assert.equal(calls, 2);
    });
  });

  it('when a promise settles in time, then true; when it does not, then false at the bound', async () => {
    assert.equal(await settlesWithin(Promise.resolve(), 1_000), true);
    const started = Date.now();
    assert.equal(await settlesWithin(new Promise(() => undefined), 20), false);
    assert.ok(Date.now() - started >= 15);
  });
});
