/** The API's answers, as far as the dashboard reads them (the schemas: src/manager/http/*schemas.ts). */

/** The states of a job with no outcome yet, in its order of life. */
export const UNFINISHED_STATES = ['waiting', 'queued', 'delayed', 'running', 'buried'] as const;
export const JOB_STATES = [...UNFINISHED_STATES, 'completed', 'failed', 'cancelled'] as const;

export type JobState = (typeof JOB_STATES)[number];

export interface TypeCounts {
  queued: number;
  delayed: number;
  running: number;
  buried: number;
  completed: number;
  failed: number;
  cancelled: number;
}

export interface StatsAnswer {
  at: string;
  types: Array<
    TypeCounts & {
      type: string;
      pausedSeconds: number;
      /** PUT /types/<type>/limits; absent when the type has none. */
      limits?: { rate_per_second?: number; burst?: number; concurrency?: number; interval_seconds?: number };
    }
  >;
  totals: TypeCounts;
  outcomesCountedAt: string;
  throughput: ThroughputSeries & {
    lastMinute: { accepted: number; completed: number; failed: number; perSecond: number };
  };
  lastHour: ThroughputSeries;
  workers: { live: number };
  managers: { live: number };
}

/** Counts per bucket of `bucketSeconds` from `start` on (GET /stats). */
export interface ThroughputSeries {
  bucketSeconds: number;
  start: string;
  accepted: number[];
  completed: number[];
  failed: number[];
}

export interface ReadyAnswer {
  status: 'ready' | 'unavailable';
  beanstalkd: 'ok' | 'unavailable';
  mongodb: 'ok' | 'unavailable';
}

export interface JobRow {
  id: string;
  type: string;
  state: JobState;
  createdAt: string;
  group?: string;
  finishedAt?: string;
}

export interface JobListAnswer {
  jobs: JobRow[];
  nextCursor: string | null;
}

export interface QueueView {
  tube: string;
  priority: number;
  age: number;
  delay: number;
  ttr: number;
  timeLeft: number;
  reserves: number;
  timeouts: number;
  releases: number;
  buries?: number;
  kicks?: number;
}

export interface JobView {
  id: string;
  type: string;
  state: JobState;
  createdAt: string;
  attempts: number;
  maxAttempts?: number;
  group?: string;
  queue?: QueueView | null;
  errors?: Array<{ attempt: number; worker: string; error: string; at: string }>;
  result?: unknown;
  error?: { message: string };
  worker?: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  payload?: unknown;
  progress?: { percent: number; data?: unknown; at: string };
  /** A job posted with depends_on: its parents and their states (docs/flows-design.md). */
  dependsOn?: Array<{ id: string; state: JobState }>;
  onParentFailure?: 'fail' | 'cancel' | 'run';
  /** A group's completion job: the group it runs after. */
  onCompleteOf?: string;
  webhook?: {
    url: string;
    deliveryId?: string;
    attempts: number;
    lastStatus?: number | string;
    lastAttemptAt?: string;
    delivered: boolean;
    gaveUp?: boolean;
  };
}

export interface WorkerView {
  id: string;
  name: string;
  host: string;
  pid: number;
  types: string[];
  concurrency: number;
  state: string;
  completed: number;
  failed: number;
  avgDurationMs: number | null;
  byType: Array<{ type: string; completed: number; failed: number; avgDurationMs: number | null }>;
  startedAt: string;
  lastSeen: string;
}

export interface WorkersAnswer {
  workers: WorkerView[];
  goneAfterMs: number;
}

export interface GroupAnswer {
  group: string;
  type: string;
  total: number;
  excluded: number;
  finished: number;
  done: boolean;
  counts: Record<string, number>;
  throughputPerSecond: number;
  failures: Array<Record<string, unknown>>;
  /** Its completion job (on_complete), when it has one. */
  onComplete?: string;
  results?: Array<Record<string, unknown>>;
}

/** The final states: nothing more happens to the job unless someone retries it. */
export const ENDED: ReadonlySet<JobState> = new Set(['completed', 'failed', 'cancelled']);

/**
 * A group in brief, as GET /groups lists it: part of what GET /groups/<id> says (its `total` as
 * `jobs`; `counts` by outcome, the rest as `unfinished`).
 */
export type GroupListItem = Pick<GroupAnswer, 'type' | 'finished' | 'done' | 'counts'> & {
  id: string;
  createdAt: string;
  jobs: number;
};

export interface GroupListAnswer {
  groups: GroupListItem[];
  nextCursor: string | null;
}

/** A schedule as GET /schedules lists it (src/manager/http/schemas/schedule-schemas.ts). */
export interface ScheduleView {
  name: string;
  cron?: string;
  every_seconds?: number;
  timezone: string;
  type: string;
  options: Record<string, string | number>;
  catch_up: 'once' | 'skip';
  paused: boolean;
  createdAt: string;
  /** Null while paused. */
  nextRunAt: string | null;
  nextRuns: string[];
  lastRunAt?: string;
  lastTick?: string;
  lastJobId?: string;
  lastSkipped?: { from: string; to: string | null; at: string };
  lastError?: { tick: string; code: string; message: string; at: string };
}

export interface ScheduleListAnswer {
  schedules: ScheduleView[];
}
