/**
 * A worker's part in webhooks, started and stopped as one: the producer connection its slots
 * queue deliveries on (opened at the first one), and — with WEBHOOK_SECRET set and
 * WEBHOOK_CONCURRENCY above 0 — the delivery loop (webhooks/delivery-loop.ts). A worker without
 * the secret delivers nothing: its deliveries wait, ready, for a worker that has it.
 */
import { queueConnection, type WorkerConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import { createQueueSet } from '../queue/index.js';
import type { Deliveries, Outcomes } from '../store/index.js';
import { type DeliveryMetrics, startDeliveryLoop } from '../webhooks/delivery-loop.js';
import { deliveryEnqueuer, type EnqueueDelivery } from '../webhooks/enqueue.js';

export interface WorkerWebhooks {
  /** What a slot calls once a job with a callback URL has its outcome stored. */
  readonly enqueueDelivery: EnqueueDelivery;
  /** Stops delivering: deliveries in flight may finish within `graceMs`. Idempotent. */
  stopDelivering(graceMs: number): Promise<void>;
  /** Closes the producer, once the slots are done queueing. */
  close(): Promise<void>;
}

export function startWorkerWebhooks(
  config: Readonly<WorkerConfig>,
  deps: { store: Deliveries & Pick<Outcomes, 'findResult'>; log: Logger; metrics: DeliveryMetrics },
): WorkerWebhooks {
  // A delivery may go to any server, as a job may: it is reserved from wherever it lands.
  const producer = createQueueSet(config.beanstalk.servers, {
    connectTimeoutMs: config.beanstalk.timeoutMs,
    commandTimeoutMs: config.beanstalk.timeoutMs,
    inspectors: 1,
    goneAfterMs: Number.POSITIVE_INFINITY,
  });
  const { webhooks } = config;
  const delivering = webhooks.concurrency > 0 && webhooks.secret !== '';
  // Info, not a warning: most deployments use no webhooks. A manager without the secret takes
  // no callback URL, so deliveries wait only when the two roles were set up differently.
  if (webhooks.concurrency > 0 && webhooks.secret === '')
    deps.log.info(
      'webhook deliveries off: WEBHOOK_SECRET is not set (deliveries wait in beanstalkd for a worker that has it)',
    );
  const loop = delivering
    ? startDeliveryLoop(
        {
          connection: queueConnection(config),
          servers: config.beanstalk.servers.map(({ host, port }) => `${host}:${port}`),
          tubePrefix: config.tubePrefix,
          concurrency: webhooks.concurrency,
          secret: webhooks.secret,
          allowPrivate: webhooks.allowPrivate,
          connectTimeoutMs: webhooks.connectTimeoutMs,
          responseTimeoutMs: webhooks.responseTimeoutMs,
          schedule: {
            baseMs: webhooks.retryBaseMs,
            capMs: webhooks.retryCapMs,
            maxAttempts: webhooks.maxAttempts,
          },
          reserveTimeoutSeconds: config.reserveTimeoutSeconds,
        },
        deps,
      )
    : undefined;
  return {
    enqueueDelivery: deliveryEnqueuer(producer, config.tubePrefix),
    stopDelivering: async (graceMs) => loop?.stop(graceMs),
    close: () => producer.close(),
  };
}
