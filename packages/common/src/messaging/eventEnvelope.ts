// The one builder of an event's envelope (docs/events.md): every producer writes what this returns
// into its outbox table; the relay adds `id` (the outbox row id) when it publishes.
import type { Envelope } from './envelope.ts';

/** The payload version producers write today; consumers ignore fields they do not know. */
export const EVENT_VERSION = 1;

/** An event as a producer writes it into its outbox: the envelope without `id`. */
export type OutboxEnvelope<T extends string = string, D extends object = Record<string, unknown>> = Omit<
  Envelope<D>,
  'id' | 'type'
> & { type: T };

export interface EventEnvelopeOptions {
  /** Follows one booking through the saga: the PNR, or the reservation id. */
  correlationId: string | null;
  /** When it happened; default now. */
  at?: Date;
  version?: number;
}

/** The envelope of an event of `type` (= its routing key) carrying `data`. */
export function eventEnvelope<T extends string, D extends object>(
  type: T,
  data: D,
  opts: EventEnvelopeOptions,
): OutboxEnvelope<T, D> {
  return {
    type,
    version: opts.version ?? EVENT_VERSION,
    occurredAt: (opts.at ?? new Date()).toISOString(),
    correlationId: opts.correlationId,
    data,
  };
}
