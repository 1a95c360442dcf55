/**
 * Jobs in beanstalkd per type and state, read at the moment they are asked for: `list-tubes`,
 * then `stats-tube` for each of this system's tubes (jobs/queue-copy.ts names them).
 */
import { DEFAULT_JOB_TYPE } from '../../handlers/index.js';
import { tubeName, typeOfTube } from '../../jobs/queue-copy.js';
import { isQueueError, type QueueClient, QueueErrorCode, type QueueSet } from '../../queue/index.js';

export interface TypeDepth {
  type: string;
  tube: string;
  ready: number;
  reserved: number;
  delayed: number;
  buried: number;
  /** Seconds left of a pause (`pause-tube`, POST /types/<type>/pause); 0 when not paused. */
  pausedSeconds: number;
}

/** Bound on the tubes read per call: each is one round trip. */
export const MAX_TUBES = 200;

/**
 * Depth per type over every server that answers, summed (a pause is the longest left on any);
 * throws only when none answers. The default type is always listed.
 */
export async function readQueueDepth(queues: QueueSet, prefix: string): Promise<TypeDepth[]> {
  const read = await Promise.allSettled(queues.servers.map((queue) => readServerDepth(queue, prefix)));
  const answered = read.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (answered.length === 0) throw (read[0] as PromiseRejectedResult).reason;
  const byType = new Map<string, TypeDepth>();
  for (const depth of answered.flat()) {
    const sum = byType.get(depth.type);
    if (!sum) byType.set(depth.type, { ...depth });
    else {
      sum.ready += depth.ready;
      sum.reserved += depth.reserved;
      sum.delayed += depth.delayed;
      sum.buried += depth.buried;
      sum.pausedSeconds = Math.max(sum.pausedSeconds, depth.pausedSeconds);
    }
  }
  return [...byType.values()].sort((a, b) => a.type.localeCompare(b.type));
}

/** One server's depth per type. */
async function readServerDepth(queue: QueueClient, prefix: string): Promise<TypeDepth[]> {
  const tubes = (await queue.listTubes())
    .filter((tube) => typeOfTube(tube, prefix) !== null)
    .sort()
    .slice(0, MAX_TUBES);
  const defaultTube = tubeName(prefix, DEFAULT_JOB_TYPE);
  if (!tubes.includes(defaultTube)) tubes.unshift(defaultTube);
  const depths: TypeDepth[] = [];
  for (const tube of tubes) {
    const type = typeOfTube(tube, prefix) ?? DEFAULT_JOB_TYPE;
    try {
      const stats = await queue.statsTube(tube);
      depths.push({
        type,
        tube,
        ready: stats.currentJobsReady,
        reserved: stats.currentJobsReserved,
        delayed: stats.currentJobsDelayed,
        buried: stats.currentJobsBuried,
        pausedSeconds: stats.pause > 0 ? stats.pauseTimeLeft : 0,
      });
    } catch (error: unknown) {
      // A tube with no jobs and no clients vanishes: between list-tubes and now, or never made.
      if (!isQueueError(error, QueueErrorCode.NOT_FOUND)) throw error;
      if (type === DEFAULT_JOB_TYPE)
        depths.push({ type, tube, ready: 0, reserved: 0, delayed: 0, buried: 0, pausedSeconds: 0 });
    }
  }
  return depths.sort((a, b) => a.type.localeCompare(b.type));
}
