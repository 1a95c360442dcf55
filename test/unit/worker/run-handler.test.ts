import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Handler, HandlerContext } from '../../../src/handlers/index.js';
import type { Envelope } from '../../../src/jobs/envelope.js';
import { silentLogger } from '../../../src/log.js';
import { type RunHandlerOptions, runHandler, touchIntervalMs } from '../../../src/worker/run-handler.js';
import { waitFor } from '../../support/harness.js';

describe('touch interval (worker/run-handler touchIntervalMs)', () => {
  it('when a TTR is given, then the job is touched every half TTR', () => {
    assert.equal(touchIntervalMs(60), 30_000);
    assert.equal(touchIntervalMs(3), 1500);
    assert.equal(touchIntervalMs(86_400), 43_200_000);
  });

  it('when half the TTR is under half a second, then the interval is half a second', () => {
    assert.equal(touchIntervalMs(1), 500);
    assert.equal(touchIntervalMs(0.5), 500);
    assert.equal(touchIntervalMs(0), 500);
  });

  it('when half the TTR is not a whole number of milliseconds, then it is rounded down', () => {
    assert.equal(touchIntervalMs(1.0011), 500);
    assert.equal(touchIntervalMs(2.0031), 1001);
  });

  it('when any TTR a job may have (1 to 86400 s) is given, then the first touch comes at half of it, well before beanstalkd would take the job back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 86_400 }), (ttrSeconds) => {
        const interval = touchIntervalMs(ttrSeconds);

        assert.equal(interval, ttrSeconds * 500);
        assert.ok(interval < ttrSeconds * 1000);
      }),
    );
  });
});

describe('one handler run (worker/run-handler runHandler)', () => {
  const envelope: Envelope = { id: 'j1', type: 't', payload: '{"a":1}', maxAttempts: 1 };
  const base = (handler: Handler, over: Partial<RunHandlerOptions> = {}): RunHandlerOptions => ({
    handler,
    envelope,
    attempt: 1,
    ttrSeconds: 60,
    touch: async () => undefined,
    workDelayMs: 0,
    jobTimeoutMs: 0,
    stopSignal: new AbortController().signal,
    log: silentLogger(),
    ...over,
  });
  /** Resolves when the handler's signal aborts, with its reason; never settles otherwise. */
  const waitForAbort = (signal: AbortSignal) =>
    new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));

  it('when the handler returns an object, then the run completed with it, and its signal was never aborted', async () => {
    let seen: AbortSignal | undefined;
    const run = await runHandler(
      base(async (payload, context) => {
        seen = context.signal;
        return { got: payload };
      }),
    );
    assert.deepEqual(run, { kind: 'completed', result: { got: { a: 1 } } });
    assert.equal(seen?.aborted, false);
  });

  it('when the handler outlives the job timeout, then its signal aborts and the run failed with the timeout', async () => {
    let seen: AbortSignal | undefined;
    const run = await runHandler(
      base(
        (_, context) => {
          seen = context.signal;
          return waitForAbort(context.signal);
        },
        { jobTimeoutMs: 30 },
      ),
    );
    assert.deepEqual(run, { kind: 'failed', message: 'timed out after 30 ms' });
    assert.equal(seen?.aborted, true);
  });

  it('when the handler ignores its signal, then the run still ends at the timeout, and a signal read later is already aborted', async () => {
    let context: HandlerContext | undefined;
    const run = await runHandler(
      base(
        (_, given) => {
          context = given;
          return new Promise(() => undefined);
        },
        { jobTimeoutMs: 30 },
      ),
    );
    assert.equal(run.kind, 'failed');
    assert.equal(context?.signal.aborted, true);
    assert.match(String(context?.signal.reason), /timed out after 30 ms/);
  });

  it('when the worker stops during the run, then the handler is aborted and the run is "stopped", not failed', async () => {
    const stop = new AbortController();
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const result = runHandler(
      base(
        (_, context) => {
          started();
          return waitForAbort(context.signal);
        },
        { stopSignal: stop.signal },
      ),
    );
    await running;
    stop.abort();
    assert.deepEqual(await result, { kind: 'stopped' });
  });

  it('when the worker stops with several runs in hand, then each is stopped and a run that ended before keeps its result', async () => {
    const stop = new AbortController();
    const ended = await runHandler(base(async () => ({ ok: 1 }), { stopSignal: stop.signal }));
    let started = 0;
    const running = [1, 2, 3].map(() =>
      runHandler(
        base(
          (_, context) => {
            started += 1;
            return waitForAbort(context.signal);
          },
          { stopSignal: stop.signal },
        ),
      ),
    );
    await waitFor('three handlers running', () => started === 3);

    stop.abort();

    assert.deepEqual(await Promise.all(running), [
      { kind: 'stopped' },
      { kind: 'stopped' },
      { kind: 'stopped' },
    ]);
    assert.deepEqual(ended, { kind: 'completed', result: { ok: 1 } });
  });

  it('when the worker stopped before the run, then the handler is not called', async () => {
    const stop = new AbortController();
    stop.abort();
    let called = false;
    const run = await runHandler(
      base(
        async () => {
          called = true;
          return {};
        },
        { stopSignal: stop.signal },
      ),
    );
    assert.deepEqual(run, { kind: 'stopped' });
    assert.equal(called, false);
  });
});
