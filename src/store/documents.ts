/** The shapes stored in MongoDB (docs/architecture.md, "Data model: every read by key"). Every `_id` is a job id. */

export interface JobOptions {
  priority: number;
  /** Seconds before the job may run. */
  delay: number;
  /** Seconds a worker may hold the job before beanstalkd gives it to another. */
  ttr: number;
  /** Deliveries before a failing job is buried with a failed outcome. */
  maxAttempts: number;
}

/** `jobs`: inserted when a job is accepted, never updated on the hot path. */
export interface JobDocument {
  _id: string;
  type: string;
  /** The request body exactly as received (valid UTF-8 JSON text): what a `hash` job digests (see handlers/hash.ts). */
  payload: string;
  /** Size of the payload in bytes. */
  bytes: number;
  options: JobOptions;
  /** Handler parameters chosen for this job, if any. */
  params?: Record<string, string | number>;
  /** The matrix group the job belongs to, if any. */
  group?: string;
  /** Its matrix combination (axis name → value), if any. */
  combination?: Record<string, string | number | boolean>;
  /** The hash of the Idempotency-Key it was accepted with, if any. */
  idempotencyKey?: string;
  /** Where its end is POSTed (`callback_url`, or its type's WEBHOOK_URLS default), checked at accept. */
  callback?: string;
  /** The schedule tick it was enqueued for, if any (manager/background/scheduler.ts). */
  schedule?: ScheduledTick;
  createdAt: Date;
  /** Where the job was first put, when it was put before its record was stored. */
  queue?: QueueLocation;
  /** The jobs it waits for (`depends_on`) and what a failed parent does to it (docs/flows-design.md). */
  flow?: FlowSpec;
}

/** What a parent that failed or was cancelled does to its child (docs/flows-design.md). */
export const PARENT_FAILURE_POLICIES = ['fail', 'cancel', 'run'] as const;
export type ParentFailurePolicy = (typeof PARENT_FAILURE_POLICIES)[number];

/**
 * A job's parents (1-100 job ids) and its policy when one of them does not complete; or, for a
 * group's completion job (`on_complete`), the group whose end it waits for (no parents, `run`).
 */
export interface FlowSpec {
  dependsOn: string[];
  onParentFailure: ParentFailurePolicy;
  /** The group (matrix or batch) whose every job must end first (docs/flows-design.md). */
  afterGroup?: string;
}

/** Which schedule enqueued a job, and for which tick (ISO 8601). */
export interface ScheduledTick {
  name: string;
  tick: string;
}

/** A job's copy in beanstalkd: ids are per server and repeat, so the server goes with them. */
export interface QueueLocation {
  server: string;
  beanstalkId: string;
  tube: string;
}

/**
 * `queue_refs`: where a job was put when that is not (or no longer) in its record: jobs put
 * after their record was stored (delayed ones), and every copy put again (retry, replay,
 * the reconciler). When both exist, this one is the newer.
 */
export interface QueueRefDocument extends QueueLocation {
  _id: string;
  putAt: Date;
}

export const Outcome = Object.freeze({
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
} as const);
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** Payloads up to this size ride along in their outcome (ResultDocument.payload). */
export const RESULT_PAYLOAD_BYTES = 4096;

/** `results`: exactly one outcome per job; the unique `_id` is the exactly-once guarantee. */
export interface ResultDocument {
  _id: string;
  type: string;
  outcome: Outcome;
  /** What the handler returned (for `hash`: `{ algorithm, hash }`). */
  result?: Record<string, unknown>;
  error?: { message: string };
  /** The worker that ran the job: `host:pid:slot`. */
  worker: string;
  /** Which delivery of the job this was (beanstalkd's reserve count). */
  attempt: number;
  /** The job's attempt budget (absent on outcomes stored before it was recorded here). */
  maxAttempts?: number;
  /**
   * True when the copy that ended was put again (retry, the reconciler, a replay), so earlier
   * copies may have failed runs: GET reads `attempts` then, as it does for attempt > 1.
   */
  requeued?: boolean;
  /** Whose outcome tally counts it, under which sequence number (store/reports/tallies.ts). */
  tally?: { w: string; k: number };
  /** The job has a callback URL: its delivery is in `deliveries` (GET reads it only then). */
  webhook?: boolean;
  /** The matrix group the job belongs to (event filters by group read it). */
  group?: string;
  /** The schedule tick that enqueued the job, if any: GET shows it from here once the job ended. */
  schedule?: ScheduledTick;
  /** The job's parents and policy, if it had any: GET shows them from here once the job ended. */
  flow?: FlowSpec;
  /**
   * The payload's text, copied from the job when it is at most RESULT_PAYLOAD_BYTES, so that
   * GET of a finished job answers with its payload from this one document.
   */
  payload?: string;
  startedAt: Date;
  finishedAt: Date;
  durationMs: number;
}

/** One failed run of a job. */
export interface AttemptEntry {
  attempt: number;
  worker: string;
  error: string;
  at: Date;
}

/**
 * `attempts`: a job's failed runs (the history GET shows), one document per job keyed by its
 * id so that GET reads it with one point read; each failure appends to `list`.
 */
export interface AttemptDocument {
  _id: string;
  list: AttemptEntry[];
}

/** `idempotency_keys`: a client's key (hashed) and the job it created first. */
export interface IdempotencyDocument {
  _id: string;
  jobId: string;
  /** SHA-256 of the first request (type, options, payload): a replay must match it. Absent on keys stored before. */
  request?: string;
  createdAt: Date;
  expiresAt: Date;
}

/** `leases`: one term of a singleton task's lease (the maintenance passes): `<name>@<term>`, its holder, its end. */
export interface LeaseDocument {
  _id: string;
  holder: string;
  expiresAt: Date;
}

/** `groups`: one matrix fan-out (its jobs carry the group id). */
export interface GroupDocument {
  _id: string;
  type: string;
  /** Jobs accepted into the group (combinations refused at accept are not counted). */
  total: number;
  axes: Record<string, Array<string | number | boolean>>;
  excluded: number;
  createdAt: Date;
  /** Every job of the group, ascending by id, with its combination: progress and listing read these. */
  jobs: Array<{ id: string; combination: Record<string, string | number | boolean> }>;
  /** The id of the group's completion job (`on_complete`), minted before it is accepted. */
  onComplete?: string;
}
