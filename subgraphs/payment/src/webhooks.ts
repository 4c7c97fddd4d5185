// The REST sidecar the payment provider calls: POST /webhooks/payments, signed like Stripe.
// Order matters: size limit, then signature over the raw bytes, then JSON, then one transaction.
// Every rejection (413, 401, 400, 404) happens before anything is written; the answer comes
// without any broker call (the outbox relay publishes later).
import type { PrismaClient } from '@tatkal/db';
import {
  addHealthRoutes,
  adoptRequestId,
  counter,
  express,
  instrumentHttp,
  listen,
  requestLogScope,
  type HttpServer,
  type Logger,
  type ReadinessCheck,
} from '@tatkal/common';
import { parseWebhookBody, providerEventApplier, type WebhookOutcome } from './domain/webhookEvents.ts';
import { SIGNATURE_HEADER, verifySignature } from './webhookSignature.ts';

export const WEBHOOK_PATH = '/webhooks/payments';

const webhookMismatches = counter({
  name: 'tatkal_payment_webhook_mismatches_total',
  help:
    'Signed provider events whose amount or currency differs from the payment: ' +
    'stored, not applied; any is worth an alert',
  labelNames: ['type'] as const,
});

export interface WebhookOptions {
  port: number;
  /** Listening address (payment's HOST): loopback unless set. */
  host?: string;
  ready: ReadinessCheck;
  prisma: PrismaClient;
  /** Every secret currently accepted (the current one first; more during a rotation). */
  secrets: readonly string[];
  logger: Logger;
  /** Largest accepted body; the provider's events are a few hundred bytes. */
  bodyLimit?: string;
  toleranceSeconds?: number;
}

const STATUS: Record<WebhookOutcome, number> = {
  APPLIED: 200,
  DUPLICATE: 200,
  NO_OP: 200,
  // Stored for an operator: a retry would change nothing.
  AMOUNT_MISMATCH: 200,
  // Not ours (yet): a non-2xx makes the provider retry with back-off, nothing is stored meanwhile.
  UNKNOWN_PAYMENT: 404,
  UNKNOWN_REFUND: 404,
};

export function webhookApp(opts: Omit<WebhookOptions, 'port' | 'host'>) {
  if (opts.secrets.length === 0) throw new Error('webhook sidecar needs at least one secret');
  // Deliveries that arrive together are applied in one transaction (group commit).
  const apply = providerEventApplier(opts.prisma, opts.logger);
  const app = express();
  app.disable('x-powered-by');
  instrumentHttp(app);
  addHealthRoutes(app, opts.ready);
  app.post(
    WEBHOOK_PATH,
    // The provider's x-request-id when sane, else a new one; answered back in the header.
    adoptRequestId(),
    // Raw bytes whatever the content type: the signature covers exactly what was sent.
    express.raw({ type: () => true, limit: opts.bodyLimit ?? '64kb' }),
    // After the body is read: every log line of the delivery carries its requestId.
    requestLogScope(),
    async (req, res, next) => {
      const log = opts.logger.child({ webhook: WEBHOOK_PATH });
      try {
        const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const check = verifySignature({
          header: req.get(SIGNATURE_HEADER),
          rawBody,
          secrets: opts.secrets,
          toleranceSeconds: opts.toleranceSeconds,
        });
        if (!check.ok) {
          log.warn({ reason: check.reason }, 'webhook rejected: bad signature');
          res.status(401).json({ error: 'invalid signature' });
          return;
        }
        let json: unknown;
        try {
          json = JSON.parse(rawBody.toString('utf8'));
        } catch {
          res.status(400).json({ error: 'body is not JSON' });
          return;
        }
        const parsed = parseWebhookBody(json);
        if (parsed.kind === 'invalid') {
          res.status(400).json({ error: parsed.error });
          return;
        }
        if (parsed.kind === 'unhandled') {
          // Acknowledged so the provider stops sending it; nothing to do for an event we do not handle.
          log.info({ type: parsed.type, providerEventId: parsed.id }, 'webhook event type not handled; acknowledged');
          res.status(200).json({ received: true, outcome: 'IGNORED' });
          return;
        }
        const { event } = parsed;
        const outcome = await apply(event, log, json as object);
        if (outcome === 'AMOUNT_MISMATCH') webhookMismatches.inc({ type: event.type });
        res.status(STATUS[outcome]).json({ received: STATUS[outcome] === 200, outcome });
      } catch (err) {
        next(err);
      }
    },
  );
  const onError: express.ErrorRequestHandler = (err: { status?: number; type?: string }, _req, res, _next) => {
    // body-parser's errors carry a status: 413 too large, 400 bad encoding.
    const status = typeof err.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) opts.logger.error({ err }, 'webhook failed');
    res
      .status(status)
      .json({ error: status === 413 ? 'body too large' : status === 500 ? 'internal error' : 'bad request' });
  };
  app.use(onError);
  return app;
}

export async function serveWebhooks(opts: WebhookOptions): Promise<HttpServer> {
  return listen(webhookApp(opts), opts.port, opts.host ?? '127.0.0.1');
}
