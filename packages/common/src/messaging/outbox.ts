// The transactional outbox's relay: rows a service wrote in the transaction of its state change,
// published with publisher confirms and marked published in the transaction that claimed them.
import { SpanKind } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { startPeriodic } from '../periodic.ts';
import { scrapedGauges } from '../telemetry.ts';
import { extractTraceContext, failSpan, inSpan, traceContextOf, traceHeaders, tracingEnabled } from '../tracing.ts';
import type { AmqpConnection } from './connection.ts';
import { serviceTable, type SqlClient, type TransactionalSqlClient } from './sql.ts';

const outboxGauges = scrapedGauges({
  unpublished: {
    name: 'tatkal_outbox_unpublished_rows',
    help: 'Outbox rows not yet confirmed by the broker, by outbox table (read at scrape time)',
    labelNames: ['table'],
  },
  oldestAge: {
    name: 'tatkal_outbox_oldest_unpublished_age_seconds',
    help:
      'Age of the oldest unpublished outbox row (0 when none): how far event publishing lags, ' +
      'by outbox table (read at scrape time)',
    labelNames: ['table'],
  },
});

export interface OutboxRelayOptions {
  prisma: TransactionalSqlClient;
  /**
   * The service's schema ('booking': rows in `booking.outbox`) or a schema-qualified table; the lag
   * gauges' `table` label.
   */
  table: string;
  connection: AmqpConnection;
  logger: Logger;
  intervalMs?: number;
  batch?: number;
  /** Maps a row's logical exchange to the broker's (a test or environment prefix). */
  exchangeName?: (exchange: string) => string;
  /** Back-off cap for a row the broker returned or nacked. */
  maxBackoffMs?: number;
  /** Published rows are deleted this long after their publication (default 7 days; 0 keeps them). */
  retentionMs?: number;
}

/** Rows deleted per statement by `pruneOutbox`: short statements, no long lock on the table. */
const PRUNE_CHUNK = 5_000;

/**
 * Deletes rows published more than `olderThanMs` ago, a chunk per statement; returns how many.
 * Unpublished rows are never touched, however old.
 */
export async function pruneOutbox(
  prisma: SqlClient,
  table: string,
  olderThanMs: number,
  stopped: () => boolean = () => false,
): Promise<number> {
  const name = serviceTable(table, 'outbox');
  let total = 0;
  for (;;) {
    const n = await prisma.$executeRawUnsafe(
      `DELETE FROM ${name} WHERE id IN (
         SELECT id FROM ${name}
         WHERE published_at < now() - ($1 || ' milliseconds')::interval
         LIMIT ${PRUNE_CHUNK})`,
      String(olderThanMs),
    );
    total += n;
    if (n < PRUNE_CHUNK || stopped()) return total;
  }
}

interface OutboxRow {
  id: string;
  exchange: string;
  routing_key: string;
  payload: unknown;
  attempts: number;
}

const payloadOf = (row: OutboxRow) =>
  (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as Record<string, unknown>;
const correlationOf = (payload: Record<string, unknown>) =>
  typeof payload.correlationId === 'string' ? payload.correlationId : undefined;

/** Unpublished rows of an outbox table and the age of the oldest, for the lag gauges. */
export async function outboxLag(
  prisma: SqlClient,
  table: string,
): Promise<{ unpublished: number; oldestAgeSeconds: number }> {
  const name = serviceTable(table, 'outbox');
  const rows = await prisma.$queryRawUnsafe<{ n: number; age: number }[]>(
    `SELECT count(*)::int AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age
       FROM ${name}
      WHERE published_at IS NULL`,
  );
  return { unpublished: Number(rows[0]?.n ?? 0), oldestAgeSeconds: Math.max(0, Number(rows[0]?.age ?? 0)) };
}

export interface OutboxRelay {
  /** Publishes what is pending now (one pass of batches); returns how many rows were published. */
  flush(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Publishes outbox rows: claims unpublished rows (FOR UPDATE SKIP LOCKED, so several instances
 * share the work), publishes each persistent + mandatory on the confirm channel, and sets
 * published_at only for rows the broker confirmed, in the same transaction that claimed them.
 * Returned or nacked rows get attempts + 1 and an in-process back-off. While RabbitMQ is away
 * nothing is claimed; rows wait and go out after the reconnect. At least once: a crash between
 * confirm and commit publishes a row again (consumers dedupe with their inbox).
 */
export function startOutboxRelay(opts: OutboxRelayOptions): OutboxRelay {
  const table = serviceTable(opts.table, 'outbox');
  const intervalMs = opts.intervalMs ?? 200;
  const batch = opts.batch ?? 100;
  const maxBackoffMs = opts.maxBackoffMs ?? 60_000;
  const retentionMs = opts.retentionMs ?? 7 * 86_400_000;
  let lastPrune = 0;
  const exchangeName = opts.exchangeName ?? ((e: string) => e);
  const log = opts.logger.child({ component: 'outbox-relay', table });
  const backoff = new Map<string, number>();
  let stopped = false;
  let failingSince = 0;
  // Lag is read at scrape time (one indexed query), never on the publishing path.
  const removeLagSource = outboxGauges.addSource(async () => {
    const lag = await outboxLag(opts.prisma, opts.table);
    const labels = { table: opts.table };
    return { unpublished: [{ labels, value: lag.unpublished }], oldestAge: [{ labels, value: lag.oldestAgeSeconds }] };
  });

  // The row's trace context (the transaction that wrote it) travels in the W3C headers, not the
  // body; with tracing on here, the publish is a PRODUCER span of that trace.
  const publishRow = (row: OutboxRow) => {
    const { traceContext, ...payload } = payloadOf(row);
    const stored = traceContextOf(traceContext);
    const exchange = exchangeName(row.exchange);
    const send = (headers: Record<string, string>) =>
      opts.connection.publish(exchange, row.routing_key, Buffer.from(JSON.stringify({ id: row.id, ...payload })), {
        persistent: true,
        mandatory: true,
        messageId: row.id,
        correlationId: correlationOf(payload),
        type: typeof payload.type === 'string' ? payload.type : row.routing_key,
        contentType: 'application/json',
        timestamp: Math.floor(Date.now() / 1000),
        ...(Object.keys(headers).length ? { headers } : {}),
      });
    // A row written outside any trace (the seed, a sweeper) is published without a span: the
    // consumer's span starts its trace.
    if (!tracingEnabled() || !stored) return send(stored ? { ...stored } : {});
    const attributes = {
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'send',
      'messaging.destination.name': exchange,
      'messaging.rabbitmq.destination.routing_key': row.routing_key,
      'messaging.message.id': row.id,
    };
    const parent = extractTraceContext({ ...stored });
    return inSpan(`publish ${row.exchange}`, { kind: SpanKind.PRODUCER, attributes, parent }, async (span) => {
      const outcome = await send(traceHeaders());
      if (outcome !== 'confirmed') failSpan(span, new Error('returned as unroutable'));
      return outcome;
    });
  };

  const publishBatch = async (): Promise<{ claimed: number; published: number }> => {
    const now = Date.now();
    for (const [id, until] of backoff) if (until <= now) backoff.delete(id);
    const skip = [...backoff.keys()];
    return opts.prisma.$transaction(
      async (tx) => {
        const rows = await tx.$queryRawUnsafe<OutboxRow[]>(
          `SELECT id::text AS id, exchange, routing_key, payload, attempts FROM ${table}
           WHERE published_at IS NULL AND NOT (id = ANY($1::uuid[]))
           ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
          skip,
          batch,
        );
        if (rows.length === 0) return { claimed: 0, published: 0 };
        const outcomes = await Promise.allSettled(rows.map((row) => publishRow(row)));
        const published: string[] = [];
        const failed: { row: OutboxRow; reason: string }[] = [];
        outcomes.forEach((o, i) => {
          const row = rows[i]!;
          if (o.status === 'fulfilled' && o.value === 'confirmed') published.push(row.id);
          else
            failed.push({
              row,
              reason:
                o.status === 'fulfilled' ? 'returned as unroutable' : String((o.reason as Error)?.message ?? o.reason),
            });
        });
        if (published.length) {
          await tx.$executeRawUnsafe(`UPDATE ${table} SET published_at = now() WHERE id = ANY($1::uuid[])`, published);
          if (log.isLevelEnabled('debug')) {
            for (const row of rows)
              if (published.includes(row.id))
                log.debug(
                  { outboxId: row.id, routingKey: row.routing_key, correlationId: correlationOf(payloadOf(row)) },
                  'outbox row published',
                );
          }
        }
        if (failed.length) {
          await tx.$executeRawUnsafe(
            `UPDATE ${table} SET attempts = attempts + 1 WHERE id = ANY($1::uuid[])`,
            failed.map((f) => f.row.id),
          );
          for (const { row, reason } of failed) {
            const delay = Math.min(maxBackoffMs, 1_000 * 2 ** Math.min(row.attempts, 16));
            backoff.set(row.id, Date.now() + delay);
            log.warn(
              {
                outboxId: row.id,
                correlationId: correlationOf(payloadOf(row)),
                exchange: row.exchange,
                routingKey: row.routing_key,
                attempts: row.attempts + 1,
                retryInMs: delay,
                reason,
              },
              'outbox row not published; will retry',
            );
          }
        }
        return { claimed: rows.length, published: published.length };
      },
      // The claim (row locks) is held while waiting for confirms.
      { maxWait: 5_000, timeout: 60_000 },
    );
  };

  const flushOnce = async (): Promise<number> => {
    let total = 0;
    while (!stopped && opts.connection.isConnected()) {
      const { claimed, published } = await publishBatch();
      total += published;
      if (claimed < batch) break;
    }
    return total;
  };

  const periodic = startPeriodic({ name: 'outbox relay', intervalMs, logger: log }, async () => {
    try {
      await flushOnce();
      if (failingSince) log.info('outbox relay recovered');
      failingSince = 0;
      // A rush writes millions of rows a day: published ones go after the retention, hourly (every
      // instance may; the statements are idempotent).
      if (retentionMs > 0 && Date.now() - lastPrune > 3_600_000) {
        lastPrune = Date.now();
        const pruned = await pruneOutbox(opts.prisma, opts.table, retentionMs, () => stopped);
        if (pruned) log.info({ pruned }, 'deleted outbox rows published before the retention');
      }
    } catch (err) {
      // Once per outage, not on every pass of the poll.
      if (!failingSince) log.error({ err }, 'outbox relay pass failed; will retry');
      failingSince ||= Date.now();
    }
  });

  return {
    async flush() {
      await periodic.idle();
      return flushOnce();
    },
    async stop() {
      stopped = true;
      removeLagSource();
      await periodic.stop();
    },
  };
}
