/**
 * `npm run bench:round-trip [-- --seconds N]`: what one message and its answer cost this machine
 * in CPU, between two Node processes over loopback TCP — at steady rates (each message wakes an
 * idle process, as at a low job rate) and back to back (the next message leaves as the answer
 * arrives, as under load), the baseline measured in the same run. Both processes' CPU from /proc,
 * kernel time included. At a low job rate a job's CPU is mostly such round trips
 * (docs/performance.md, "The machine": waking an idle process costs CPU).
 */
import './no-orphans.js';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { benchArgs, wholeNumber } from './args.js';
import { cpuSeconds } from './cpu.js';
import { fmt } from './format.js';

const { values: flags } = benchArgs(import.meta.url, { seconds: { type: 'string' } });
const seconds = wholeNumber(import.meta.url, 'seconds', flags.seconds, 4);
const ECHO = `const s = require('node:net').createServer((c) => { c.setNoDelay(true); c.on('data', (d) => c.write(d)); });
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));`;

const echo = spawn(process.execPath, ['-e', ECHO], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise<number>((resolve) =>
  echo.stdout.once('data', (d: Buffer) => resolve(Number(d))),
);
const socket: Socket = connect(port, '127.0.0.1');
socket.setNoDelay(true);
await new Promise((resolve) => socket.once('connect', resolve));

/** Sends one byte at `rate` a second (0: back to back) for `seconds`; µs of CPU per round trip. */
async function measure(rate: number): Promise<{ trips: number; us: number }> {
  let trips = 0;
  let onAnswer = () => {};
  socket.on('data', (chunk: Buffer) => {
    trips += chunk.length;
    onAnswer();
  });
  const cpu = () => cpuSeconds(process.pid) + cpuSeconds(echo.pid);
  const before = cpu();
  const end = performance.now() + seconds * 1000;
  if (rate === 0) {
    await new Promise<void>((resolve) => {
      onAnswer = () => (performance.now() < end ? socket.write('x') : resolve());
      socket.write('x');
    });
  } else {
    // Each message at its time on a fixed schedule, so a late timer does not lower the rate.
    for (let next = performance.now(); next < end; next += 1000 / rate) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      socket.write('x');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const used = cpu() - before;
  socket.removeAllListeners('data');
  return { trips, us: (used * 1e6) / Math.max(1, trips) };
}

const say = (line: string) => process.stdout.write(`${line}\n`);
say(`round trips between two Node processes over loopback, ${seconds} s each; CPU of both, kernel included`);
const baseline = await measure(0);
say(
  `  back to back: ${fmt(baseline.trips / seconds)} a second, ${fmt(baseline.us)} µs of CPU each (the baseline)`,
);
for (const rate of [100, 500, 1000]) {
  const { trips, us } = await measure(rate);
  say(
    `  ${fmt(rate)} a second (${fmt(trips)}): ${fmt(us)} µs of CPU each, ${fmt(us / baseline.us, 1)}× back to back`,
  );
}
socket.destroy();
echo.kill();
