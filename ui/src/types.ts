/** The API's answers, as far as the dashboard reads them (the schemas: src/manager/http/*schemas.ts). */

export type JobState = 'queued' | 'delayed' | 'running' | 'buried' | 'completed' | 'failed' | 'cancelled';

export const JOB_STATES: readonly JobState[] = [
  'queued',
  'delayed',
  'running',
  'buried',
  'completed',
  'failed',
  'cancelled',
];

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
  types: Array<TypeCounts & { type: string; pausedSeconds: number }>;
  totals: TypeCounts;
  outcomesCountedAt: string;
  throughput: {
    bucketSeconds: number;
    start: string;
    completed: number[];
    failed: number[];
    lastMinute: { completed: number; failed: number; perSecond: number };
  };
  workers: { live: number };
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
  results?: Array<Record<string, unknown>>;
}

/** The final states: nothing more happens to the job unless someone retries it. */
export const ENDED: ReadonlySet<JobState> = new Set(['completed', 'failed', 'cancelled']);
