// The merchant side of the payment provider's API (what Stripe's SDK would be): create a payment
// for a checkout, ask for a refund. Every call carries an Idempotency-Key, so a retry after a
// time-out or a rolled-back transaction gets the provider's first answer instead of a second charge.
import { z } from 'zod';
import { jsonClient } from '../jsonClient.ts';

const paymentSchema = z.object({
  id: z.string().min(1),
  status: z.string(),
  amountPaise: z.number().int(),
  checkoutUrl: z.string().url(),
});
const refundSchema = z.object({
  id: z.string().min(1),
  status: z.string(),
  payment: z.string(),
  amountPaise: z.number().int(),
});

export type ProviderPayment = z.infer<typeof paymentSchema>;
export type ProviderRefund = z.infer<typeof refundSchema>;

export class ProviderError extends Error {
  override name = 'ProviderError';
}

export interface ProviderClient {
  createPayment(input: {
    idempotencyKey: string;
    amountPaise: number;
    currency: string;
    metadata: Record<string, string>;
  }): Promise<ProviderPayment>;
  createRefund(input: {
    idempotencyKey: string;
    providerRef: string;
    amountPaise: number;
    reason: string;
  }): Promise<ProviderRefund>;
  /** Closes its connections (shutdown). */
  close?(): Promise<void>;
}

export function createProviderClient(baseUrl: string, opts: { timeoutMs?: number } = {}): ProviderClient {
  const client = jsonClient(baseUrl, { timeoutMs: opts.timeoutMs ?? 3_000 });
  async function post<T>(path: string, idempotencyKey: string, body: unknown, schema: z.ZodType<T>): Promise<T> {
    let res: Awaited<ReturnType<typeof client.post>>;
    try {
      res = await client.post(path, body, { 'idempotency-key': idempotencyKey });
    } catch (err) {
      throw new ProviderError(`payment provider unreachable at ${baseUrl}: ${(err as Error).message}`);
    }
    if (res.status < 200 || res.status >= 300)
      throw new ProviderError(
        `payment provider answered ${res.status} to POST ${path}: ${JSON.stringify(res.body).slice(0, 200)}`,
      );
    const parsed = schema.safeParse(res.body);
    if (!parsed.success) throw new ProviderError(`unexpected answer from the payment provider to POST ${path}`);
    return parsed.data;
  }
  return {
    createPayment: (input) =>
      post(
        '/payments',
        input.idempotencyKey,
        { amountPaise: input.amountPaise, currency: input.currency, metadata: input.metadata },
        paymentSchema,
      ),
    createRefund: (input) =>
      post(
        '/refunds',
        input.idempotencyKey,
        { payment: input.providerRef, amountPaise: input.amountPaise, reason: input.reason },
        refundSchema,
      ),
    close: () => client.close(),
  };
}
