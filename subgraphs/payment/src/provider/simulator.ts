// A payment provider that behaves like Stripe toward its merchant, for development and tests: it
// keeps payments and refunds in memory, honours Idempotency-Key on creation, shows a tiny
// checkout page, and delivers signed webhooks with its own event ids, retrying failed deliveries
// with bounded exponential back-off. For tests it can send duplicates, shuffle the order and hold
// some deliveries back (late: after later events of the same payment).
//
//   POST /payments            {amountPaise, currency, metadata}   -> 201 {id, status, amountPaise, checkoutUrl}
//   GET  /payments[/:ref], /refunds, /deliveries               inspect
//   GET  /checkout/:ref       the page a traveller pays on (two buttons)
//   POST /payments/:ref/succeed | /fail                            -> payment.succeeded | payment.failed
//   POST /refunds             {payment, amountPaise?, reason?}     -> 201 {id, status: 'pending', ...},
//                                                                     then refund.succeeded
import { randomBytes } from 'node:crypto';
import { addHealthRoutes, express, instrumentHttp, listen, type HttpServer, type Logger } from '@tatkal/common';
import { SIGNATURE_HEADER, signatureHeader } from '../webhookSignature.ts';

export type SimPaymentStatus = 'pending' | 'succeeded' | 'failed' | 'refunded' | 'partially_refunded';

export interface SimPayment {
  id: string;
  amountPaise: number;
  currency: string;
  status: SimPaymentStatus;
  metadata: Record<string, string>;
  refundedPaise: number;
  checkoutUrl: string;
  createdAt: string;
}

export interface SimRefund {
  id: string;
  payment: string;
  amountPaise: number;
  reason: string;
  status: 'pending' | 'succeeded';
}

export interface SimEvent {
  id: string;
  type: 'payment.succeeded' | 'payment.failed' | 'refund.succeeded';
  created: number;
  data: { providerRef: string; amountPaise: number; currency?: string; refundId?: string };
}

export interface Delivery {
  eventId: string;
  type: SimEvent['type'];
  /** 1 for the first copy; 2 for a deliberate duplicate. */
  copy: number;
  attempts: number;
  status: 'pending' | 'delivered' | 'failed';
  lastStatus: number | null;
  /** How long the receiver took to answer the last attempt (null: no answer). */
  lastMs: number | null;
  /** Held back this long before the first attempt (a late delivery). */
  heldMs?: number;
}

export interface SimulatorOptions {
  /** Where webhooks go (the payment sidecar's POST /webhooks/payments). */
  webhookUrl: string;
  /** Signing secrets: every one signs each delivery (two during a rotation). */
  secrets: string[];
  /** Base of checkout URLs as a browser reaches the simulator; default its own listening URL. */
  publicUrl?: string;
  /** Probability (0..1) that an event is delivered a second time. */
  duplicateRate?: number;
  /** Hold events for `shuffleWindowMs` and deliver them in random order. */
  shuffle?: boolean;
  shuffleWindowMs?: number;
  /** Probability (0..1) that a delivery (either copy) is held back before its first attempt. */
  lateRate?: number;
  /** How long a late delivery is held: uniformly between half this and this (default 3 s). */
  lateMs?: number;
  /**
   * Bounded retries: at most this many attempts (default 8, about a minute in all), waiting
   * baseDelayMs * 2^(n-1), capped at maxDelayMs.
   */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Refunds succeed right after they are requested (as most do). */
  autoSucceedRefunds?: boolean;
  logger?: Logger;
  random?: () => number;
}

const token = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function createProviderSimulator(opts: SimulatorOptions) {
  if (opts.secrets.length === 0) throw new Error('the provider simulator needs a signing secret');
  const random = opts.random ?? Math.random;
  const maxAttempts = opts.maxAttempts ?? 8;
  const baseDelayMs = opts.baseDelayMs ?? 500;
  const maxDelayMs = opts.maxDelayMs ?? 30_000;
  let webhookUrl = opts.webhookUrl;
  let publicUrl = opts.publicUrl;
  let closed = false;

  const payments = new Map<string, SimPayment>();
  const refunds = new Map<string, SimRefund>();
  const idempotent = new Map<string, unknown>();
  const deliveries: Delivery[] = [];
  const inflight = new Set<Promise<void>>();
  /** Pending back-off waits; close() ends them early so no delivery outlives the simulator. */
  const timers = new Map<NodeJS.Timeout, () => void>();
  let buffered: SimEvent[] = [];
  let flushTimer: NodeJS.Timeout | null = null;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.set(t, resolve);
    });

  async function deliver(event: SimEvent, copy: number): Promise<void> {
    const record: Delivery = {
      eventId: event.id,
      type: event.type,
      copy,
      attempts: 0,
      status: 'pending',
      lastStatus: null,
      lastMs: null,
    };
    deliveries.push(record);
    if (random() < (opts.lateRate ?? 0)) {
      const lateMs = opts.lateMs ?? 3_000;
      record.heldMs = Math.round(lateMs / 2 + (random() * lateMs) / 2);
      await sleep(record.heldMs);
    }
    const body = JSON.stringify(event);
    for (let attempt = 1; attempt <= maxAttempts && !closed; attempt++) {
      record.attempts = attempt;
      const sentAt = performance.now();
      try {
        // Signed afresh on every attempt: the timestamp says when this attempt was sent.
        const res = await fetch(webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signatureHeader(opts.secrets, body) },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        record.lastStatus = res.status;
        await res.arrayBuffer();
        record.lastMs = performance.now() - sentAt;
        if (res.ok) {
          record.status = 'delivered';
          return;
        }
      } catch {
        record.lastStatus = null;
        record.lastMs = null;
      }
      if (attempt < maxAttempts) await sleep(Math.min(baseDelayMs * 2 ** (attempt - 1), maxDelayMs));
    }
    if (closed && record.status === 'pending') return; // stopped, not given up
    record.status = 'failed';
    opts.logger?.warn(
      { eventId: event.id, type: event.type, attempts: record.attempts, lastStatus: record.lastStatus },
      'webhook delivery gave up',
    );
  }

  function track(p: Promise<void>) {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }

  function dispatch(event: SimEvent) {
    track(deliver(event, 1));
    if (random() < (opts.duplicateRate ?? 0)) track(deliver(event, 2));
  }

  function flush() {
    flushTimer = null;
    const batch = buffered;
    buffered = [];
    // Fisher-Yates: every order equally likely.
    for (let i = batch.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [batch[i], batch[j]] = [batch[j]!, batch[i]!];
    }
    for (const event of batch) dispatch(event);
  }

  function emit(type: SimEvent['type'], data: SimEvent['data']): SimEvent {
    const event: SimEvent = { id: token('evt'), type, created: Math.floor(Date.now() / 1000), data };
    opts.logger?.info({ eventId: event.id, type, providerRef: data.providerRef }, 'provider event');
    if (opts.shuffle) {
      buffered.push(event);
      flushTimer ??= setTimeout(flush, opts.shuffleWindowMs ?? 50);
    } else {
      dispatch(event);
    }
    return event;
  }

  class SimError extends Error {
    constructor(
      readonly status: number,
      message: string,
    ) {
      super(message);
    }
  }

  function createPayment(input: { amountPaise?: unknown; currency?: unknown; metadata?: unknown }): SimPayment {
    if (typeof input.amountPaise !== 'number' || !Number.isInteger(input.amountPaise) || input.amountPaise <= 0)
      throw new SimError(400, 'amountPaise must be a positive integer');
    const metadata =
      input.metadata && typeof input.metadata === 'object'
        ? Object.fromEntries(Object.entries(input.metadata).map(([k, v]) => [k, String(v)]))
        : {};
    const id = token('sim_pay');
    const payment: SimPayment = {
      id,
      amountPaise: input.amountPaise,
      currency: typeof input.currency === 'string' ? input.currency : 'INR',
      status: 'pending',
      metadata,
      refundedPaise: 0,
      checkoutUrl: `${publicUrl ?? 'http://127.0.0.1:4006'}/checkout/${id}`,
      createdAt: new Date().toISOString(),
    };
    payments.set(id, payment);
    return payment;
  }

  function settle(ref: string, outcome: 'succeeded' | 'failed'): SimEvent {
    const payment = payments.get(ref);
    if (!payment) throw new SimError(404, `no payment ${ref}`);
    if (payment.status !== 'pending') throw new SimError(409, `payment ${ref} is ${payment.status}`);
    payment.status = outcome;
    return emit(outcome === 'succeeded' ? 'payment.succeeded' : 'payment.failed', {
      providerRef: ref,
      amountPaise: payment.amountPaise,
      currency: payment.currency,
    });
  }

  function succeedRefund(id: string): SimEvent {
    const refund = refunds.get(id);
    if (!refund) throw new SimError(404, `no refund ${id}`);
    if (refund.status !== 'pending') throw new SimError(409, `refund ${id} is ${refund.status}`);
    refund.status = 'succeeded';
    return emit('refund.succeeded', { providerRef: refund.payment, amountPaise: refund.amountPaise, refundId: id });
  }

  function createRefund(input: { payment?: unknown; amountPaise?: unknown; reason?: unknown }): SimRefund {
    const payment = typeof input.payment === 'string' ? payments.get(input.payment) : undefined;
    if (!payment) throw new SimError(404, `no payment ${String(input.payment)}`);
    if (payment.status !== 'succeeded' && payment.status !== 'partially_refunded')
      throw new SimError(409, `payment ${payment.id} is ${payment.status}; only a paid payment can be refunded`);
    const remaining = payment.amountPaise - payment.refundedPaise;
    const amount = input.amountPaise === undefined ? remaining : input.amountPaise;
    if (typeof amount !== 'number' || !Number.isInteger(amount) || amount <= 0 || amount > remaining)
      throw new SimError(400, `amountPaise must be 1..${remaining}`);
    const refund: SimRefund = {
      id: token('sim_re'),
      payment: payment.id,
      amountPaise: amount,
      reason: typeof input.reason === 'string' ? input.reason : 'requested_by_customer',
      status: 'pending',
    };
    refunds.set(refund.id, refund);
    payment.refundedPaise += amount;
    payment.status = payment.refundedPaise === payment.amountPaise ? 'refunded' : 'partially_refunded';
    // Stripe answers first and reports the outcome by webhook.
    if (opts.autoSucceedRefunds ?? true) setImmediate(() => !closed && succeedRefund(refund.id));
    return refund;
  }

  /** Runs `create` once per Idempotency-Key (per route), like Stripe: a retry gets the first answer. */
  function once<T>(scope: string, key: string | undefined, create: () => T): T {
    if (!key) return create();
    const k = `${scope}:${key}`;
    if (!idempotent.has(k)) idempotent.set(k, create());
    return idempotent.get(k) as T;
  }

  const app = express();
  app.disable('x-powered-by');
  instrumentHttp(app);
  // Everything it needs is in memory: live is ready (webhook delivery retries on its own).
  addHealthRoutes(app, async () => ({}));
  app.use(express.json({ limit: '16kb' }), express.urlencoded({ extended: false, limit: '4kb' }));
  app.post('/payments', (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    res.status(201).json(once('payments', req.get('idempotency-key'), () => createPayment(body)));
  });
  // Like a provider's dashboard of webhook attempts: what was sent, how it was answered, how fast.
  app.get('/deliveries', (_req, res) => {
    res.json(deliveries);
  });
  app.get('/payments', (_req, res) => {
    res.json([...payments.values()]);
  });
  app.get('/refunds', (_req, res) => {
    res.json([...refunds.values()]);
  });
  app.get('/payments/:ref', (req, res) => {
    const payment = payments.get(req.params.ref);
    if (!payment) throw new SimError(404, `no payment ${req.params.ref}`);
    res.json({ ...payment, refunds: [...refunds.values()].filter((r) => r.payment === payment.id) });
  });
  for (const outcome of ['succeed', 'fail'] as const) {
    app.post(`/payments/:ref/${outcome}`, (req, res) => {
      const event = settle(req.params.ref, outcome === 'succeed' ? 'succeeded' : 'failed');
      if (req.accepts(['json', 'html']) === 'html')
        res.redirect(303, `/checkout/${encodeURIComponent(req.params.ref)}`);
      else res.json({ payment: payments.get(req.params.ref), event });
    });
  }
  app.post('/refunds', (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    res.status(201).json(once('refunds', req.get('idempotency-key'), () => createRefund(body)));
  });
  app.post('/refunds/:id/succeed', (req, res) => {
    res.json({ event: succeedRefund(req.params.id) });
  });
  app.get('/checkout/:ref', (req, res) => {
    const payment = payments.get(req.params.ref);
    if (!payment) throw new SimError(404, `no payment ${req.params.ref}`);
    const ref = escapeHtml(payment.id);
    const rupees = (payment.amountPaise / 100).toLocaleString('en-IN', { minimumFractionDigits: 2 });
    const actions =
      payment.status === 'pending'
        ? `<form method="post" action="/payments/${ref}/succeed"><button>Pay ₹${rupees}</button></form>
           <form method="post" action="/payments/${ref}/fail"><button>Decline</button></form>`
        : `<p>This payment is <strong>${escapeHtml(payment.status)}</strong>.</p>`;
    res.type('html').send(`<!doctype html><meta charset="utf-8"><title>Simulated checkout</title>
<h1>Simulated payment provider</h1><p>Payment <code>${ref}</code>: ₹${rupees} ${escapeHtml(payment.currency)}</p>
${actions}`);
  });
  app.use(((err: { status?: number; message?: string }, _req, res, _next) => {
    const status = err instanceof SimError ? err.status : typeof err.status === 'number' ? err.status : 500;
    res.status(status).json({ error: status === 500 ? 'internal error' : err.message });
  }) as express.ErrorRequestHandler);

  let http: HttpServer | null = null;

  return {
    app,
    async listen(port: number, host = '0.0.0.0'): Promise<HttpServer> {
      http = await listen(app, port, host);
      publicUrl ??= http.url;
      return http;
    },
    /** Where later deliveries go (tests learn the sidecar's port after the simulator started). */
    setWebhookUrl(url: string) {
      webhookUrl = url;
    },
    createPayment: (input: { amountPaise: number; currency?: string; metadata?: Record<string, string> }) =>
      createPayment(input),
    succeed: (ref: string) => settle(ref, 'succeeded'),
    fail: (ref: string) => settle(ref, 'failed'),
    refund: (input: { payment: string; amountPaise?: number; reason?: string }) => createRefund(input),
    succeedRefund,
    payment: (ref: string) => payments.get(ref),
    refunds: () => [...refunds.values()],
    deliveries,
    /** Resolves when every event so far has been delivered or given up on. */
    async idle(): Promise<void> {
      while (inflight.size > 0 || buffered.length > 0 || flushTimer) {
        if (inflight.size === 0) await new Promise((r) => setTimeout(r, 10));
        else await Promise.all([...inflight]);
      }
    },
    async close(): Promise<void> {
      closed = true;
      if (flushTimer) clearTimeout(flushTimer);
      flushTimer = null;
      buffered = [];
      for (const [t, resolve] of timers) {
        clearTimeout(t);
        resolve();
      }
      timers.clear();
      await http?.close();
    },
  };
}

export type ProviderSimulator = ReturnType<typeof createProviderSimulator>;
