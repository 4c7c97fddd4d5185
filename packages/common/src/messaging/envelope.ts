// The event envelope every message carries (docs/events.md), and the parser that tells a
// well-formed one from poison.
import { z } from 'zod';

/** What every event carries; `id` is the outbox row id and the AMQP messageId (the inbox key). */
export interface Envelope<D = Record<string, unknown>> {
  id: string;
  type: string;
  version: number;
  occurredAt: string;
  correlationId: string | null;
  data: D;
}

const envelopeSchema = z.object({
  id: z.string().min(1).max(200),
  type: z.string().min(1).max(200),
  version: z.number().int().min(1),
  occurredAt: z.string().min(1),
  correlationId: z.string().nullable().optional(),
  data: z.record(z.string(), z.unknown()),
});

export class PoisonMessageError extends Error {
  override name = 'PoisonMessageError';
}

/** Parses a message body; anything that is not a well-formed envelope is poison (no retry helps). */
export function parseEnvelope(content: Buffer): Envelope {
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch (err) {
    throw new PoisonMessageError(`body is not JSON: ${(err as Error).message}`);
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PoisonMessageError(`not an event envelope: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return { ...parsed.data, correlationId: parsed.data.correlationId ?? null };
}
