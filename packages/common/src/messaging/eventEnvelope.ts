// The one builder of an event's envelope (docs/events.md): every producer writes what this returns
// into its outbox table; the relay adds `id` (the outbox row id) when it publishes.
import { activeTraceContext, type TraceContext } from '../tracing.ts';
import type { Envelope } from './envelope.ts';

/** The payload version producers write today; consumers ignore fields they do not know. */
export const EVENT_VERSION = 1;

/** An event as a producer writes it into its outbox: the envelope without `id`. */
export type OutboxEnvelope<T extends string = string, D extends object = Record<string, unknown>> = Omit<
  Envelope<D>,
  'id' | 'type'
> & {
  type: T;
  /**
   * The trace of the work that wrote the event (tracing on only): the relay moves it into the
   * message's W3C headers, so the consumer's span continues that trace. Not part of the message body.
   */
  traceContext?: TraceContext;
};

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
  const traceContext = activeTraceContext();
  return {
    type,
    version: opts.version ?? EVENT_VERSION,
    occurredAt: (opts.at ?? new Date()).toISOString(),
    correlationId: opts.correlationId,
    data,
    ...(traceContext ? { traceContext } : {}),
  };
}
