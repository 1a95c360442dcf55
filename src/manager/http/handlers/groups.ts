/**
 * The handlers of matrix groups: `POST /jobs/matrix` fans a request out, `GET /groups/{id}`
 * follows it, `GET /groups` lists them.
 */
import type { Context } from 'koa';
import type { QueueSet } from '../../../queue/index.js';
import type { Store } from '../../../store/index.js';
import { type createGroupListing, parseGroupListQuery } from '../../groups/group-list.js';
import type { createGroupReader } from '../../groups/group-progress.js';
import { fanOut } from '../../groups/matrix.js';
import { MATRIX_BODY_BYTES, parseMatrixSpec } from '../../groups/matrix-spec.js';
import type { JobService } from '../../jobs/accept/accept.js';
import { optionSource } from '../../jobs/accept/options.js';
import { readJsonBody } from '../read-json-body.js';
import { jobIdIn } from './job-id.js';
import type { AcceptLimits } from './jobs.js';

export interface GroupHandlerDeps {
  jobs: JobService;
  groups: ReturnType<typeof createGroupReader>;
  groupList: ReturnType<typeof createGroupListing>;
  store: Store;
  queue: QueueSet;
  limits: AcceptLimits;
  /** Told about each newly accepted job (metrics). */
  onAccepted: (type: string) => void;
}

/** postMatrix, getGroup and listGroups, by their route-table names. */
export function groupHandlers(deps: GroupHandlerDeps) {
  const { limits } = deps;
  return {
    postMatrix: async (ctx: Context) => {
      // The template fits in one job; the axes and rules in MATRIX_BODY_BYTES.
      // The template is checked for prototype keys once it is found (parseMatrixSpec): axis
      // names and rules have their own checks.
      const body = await readJsonBody(ctx.req, {
        limitBytes: MATRIX_BODY_BYTES + limits.maxJobSize(),
        maxDepth: limits.maxJsonDepth,
        timeoutMs: limits.bodyTimeoutMs,
        forbidPrototypeKeys: false,
      });
      const { status, body: answer } = await fanOut(
        {
          jobs: deps.jobs,
          store: deps.store,
          queue: deps.queue,
          defaultOptions: limits.defaultOptions,
          allowedTypes: limits.allowedTypes,
          maxItems: limits.maxItems,
          maxBytes: limits.maxBytes,
          maxJsonDepth: limits.maxJsonDepth,
          forbidPrototypeKeys: limits.forbidPrototypeKeys,
          onAccepted: deps.onAccepted,
        },
        parseMatrixSpec(body.value, body.text, { forbidPrototypeKeys: limits.forbidPrototypeKeys }),
        optionSource(ctx.query, (name) => ctx.get(name)),
      );
      ctx.status = status;
      ctx.body = answer;
    },
    getGroup: async (ctx: Context) => {
      const id = jobIdIn(ctx);
      ctx.set('Cache-Control', 'no-store');
      ctx.type = 'application/json';
      ctx.body = await deps.groups.progress(id);
    },
    listGroups: async (ctx: Context) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await deps.groupList.list(parseGroupListQuery(ctx.query));
    },
  };
}
