// Booking's network events keep search's projection fresh: `network.station.upserted` and
// `network.train.upserted` on the `booking` exchange. The inbox row and the document commit in one
// transaction, so a redelivered event changes nothing; Elasticsearch (when configured) is updated
// after the commit, best effort: `npm run search:reindex` repairs a miss.
import { z } from 'zod';
import type { PrismaClient } from '@tatkal/db';
import {
  recordInbox,
  startConsumer,
  type AmqpConnection,
  type Consumer,
  type Envelope,
  type Logger,
} from '@tatkal/common';
import { routeSchema } from '../domain/trainsBetween.ts';
import { refreshStationText, refreshTrainText } from '../projection.ts';
import type { StationSource, TrainSource } from '../backends/elasticsearchQueries.ts';

export const stationUpserted = z.object({
  code: z.string().regex(/^[A-Z0-9]{1,8}$/),
  name: z.string().min(1).max(200),
  city: z.string().min(1).max(200),
  state: z.string().min(1).max(200),
  aliases: z.array(z.string().min(1).max(200)).max(50).default([]),
});

export const trainUpserted = z.object({
  number: z.string().regex(/^\d{4,5}$/),
  name: z.string().min(1).max(200),
  type: z.string().min(1).max(50),
  runsOn: z.array(z.number().int().min(0).max(6)).max(7),
  classes: z.array(z.string().min(1).max(4)).max(10),
  stops: routeSchema.min(2),
});

export type NetworkEventOutcome = 'APPLIED' | 'DUPLICATE' | 'IGNORED';

export interface NetworkEventHooks {
  /** After the commit: index the changed document elsewhere (Elasticsearch). */
  onStation?: (doc: StationSource) => Promise<void>;
  onTrain?: (doc: TrainSource) => Promise<void>;
}

/** Applies one network event exactly once (per message id). A malformed payload throws (retries, then the DLQ). */
export async function applyNetworkEvent(
  prisma: PrismaClient,
  envelope: Envelope,
  logger: Logger,
  hooks: NetworkEventHooks = {},
): Promise<NetworkEventOutcome> {
  const station = envelope.type === 'network.station.upserted' ? stationUpserted.parse(envelope.data) : null;
  const train = envelope.type === 'network.train.upserted' ? trainUpserted.parse(envelope.data) : null;
  const outcome = await prisma.$transaction(
    async (tx) => {
      if (!(await recordInbox(tx, 'search', envelope))) return 'DUPLICATE' as const;
      if (station) {
        const data = { name: station.name, city: station.city, state: station.state, aliases: station.aliases };
        await tx.stationDoc.upsert({
          where: { code: station.code },
          create: { code: station.code, ...data, searchText: '' },
          update: data,
        });
        await refreshStationText(tx, station.code);
        return 'APPLIED' as const;
      }
      if (train) {
        const data = {
          name: train.name,
          type: train.type,
          runsOn: train.runsOn,
          classes: train.classes,
          stops: train.stops,
          stationCodes: train.stops.map((s) => s.code),
        };
        await tx.trainDoc.upsert({
          where: { number: train.number },
          create: { number: train.number, ...data, searchText: '' },
          update: data,
        });
        await refreshTrainText(tx, train.number);
        return 'APPLIED' as const;
      }
      return 'IGNORED' as const;
    },
    { maxWait: 5_000, timeout: 15_000 },
  );
  if (outcome === 'APPLIED') {
    try {
      if (station)
        await hooks.onStation?.({
          code: station.code,
          name: station.name,
          city: station.city,
          state: station.state,
          aliases: station.aliases,
        });
      if (train) await hooks.onTrain?.({ number: train.number, name: train.name, type: train.type });
    } catch (err) {
      logger.warn(
        { err, type: envelope.type },
        'search index not updated after a network event; the next reindex will catch up',
      );
    }
  }
  logger.info({ type: envelope.type, outcome }, 'network event handled');
  return outcome;
}

/** The queue, its binding and how to name them with a prefix (tests, environments). */
export function networkEventsQueue(prefix = '') {
  return {
    queue: `${prefix}search.booking-events`,
    bindings: [{ exchange: `${prefix}booking`, pattern: 'network.#' }],
  };
}

export function startNetworkEventsConsumer(opts: {
  connection: AmqpConnection;
  prisma: PrismaClient;
  logger: Logger;
  prefix?: string;
  hooks?: NetworkEventHooks;
  maxAttempts?: number;
  retryDelayMs?: number;
  onOutcome?: (outcome: NetworkEventOutcome, envelope: Envelope) => void;
}): Consumer {
  const spec = networkEventsQueue(opts.prefix);
  return startConsumer({
    connection: opts.connection,
    queue: spec.queue,
    bindings: spec.bindings,
    prefetch: 20,
    maxAttempts: opts.maxAttempts,
    retryDelayMs: opts.retryDelayMs,
    logger: opts.logger,
    handler: async (envelope, ctx) => {
      const outcome = await applyNetworkEvent(opts.prisma, envelope, ctx.logger, opts.hooks);
      opts.onOutcome?.(outcome, envelope);
    },
  });
}
