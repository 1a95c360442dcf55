/**
 * The built-in `metrics` job: samples the host the worker runs on — CPU use over a short
 * window, load averages, memory, uptime — and who sampled it, so a batch of these jobs over
 * a pool reads as a status board of its machines.
 */
import { cpus, freemem, hostname, loadavg, totalmem, uptime } from 'node:os';
import type { Handler } from './types.js';

function cpuTimes() {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const { user, nice, sys, idle: i, irq } = cpu.times;
    idle += i;
    total += user + nice + sys + i + irq;
  }
  return { idle, total };
}

export function metricsHandler(workerName: string, windowMs = 200): Handler {
  return async (_payload, context) => {
    const before = cpuTimes();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, windowMs);
      context.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(context.signal.reason);
      });
    });
    const after = cpuTimes();
    const busy = after.total - before.total - (after.idle - before.idle);
    const cpuPercent =
      after.total > before.total ? Math.round((busy / (after.total - before.total)) * 1000) / 10 : 0;
    const [load1, load5, load15] = loadavg();
    return {
      worker: workerName,
      host: hostname(),
      pid: process.pid,
      cpus: cpus().length,
      cpuPercent,
      load: { '1m': load1 ?? 0, '5m': load5 ?? 0, '15m': load15 ?? 0 },
      memory: { totalBytes: totalmem(), freeBytes: freemem(), processRssBytes: process.memoryUsage().rss },
      uptimeSeconds: Math.round(uptime()),
      sampledAt: new Date().toISOString(),
    };
  };
}
