// One chaos run: the stack (stack.ts), the rush, the payment phase and the cancellations, with the
// seeded faults (faults.ts) injected meanwhile; then it waits until the system has settled (every
// condition of settle(), not a fixed time) and checks the ledger (ledger.ts). Used by
// bench/chaos.ts (npm run bench:chaos) and by the short form in test/chaos.e2e.test.ts.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Reservation, TatkalClient } from '@tatkal/client';
import { createRedis } from '@tatkal/common';
import { createPrisma } from '@tatkal/db';
import { seededRandom } from '../../packages/testkit/src/random.ts';
import { createTestRun } from '../../packages/testkit/src/trainRun.ts';
import { benchClient, reserveInput, runPool } from '../load.ts';
import { mintTokens } from '../tokens.ts';
import {
  closeAmqpConnections,
  type FaultRecord,
  findLeaseholder,
  type Phase,
  type PlannedFault,
  planFaults,
} from './faults.ts';
import { checkLedger, type Ledger, unsettled } from './ledger.ts';
import { collectState } from './state.ts';
import { withRetry } from './retry.ts';
import { type ChaosStack, startChaosStack } from './stack.ts';

export interface ChaosOptions {
  seed: number;
  users: number;
  concurrency: number;
  faults: number;
  coaches: number;
  berthsPerCoach: number;
  databaseUrl: string;
  redisUrl: string;
  amqpUrl: string;
  keysFile: string;
  signingKey: Parameters<typeof mintTokens>[0];
  holdTtlMs: number;
  /** Share of travellers who decline at the checkout, and of confirmed ones who cancel. */
  declineRate: number;
  cancelRate: number;
  /** Share of travellers who pay after their hold ran out, and who cancel the moment they paid. */
  latePayRate: number;
  payThenCancelRate: number;
  webhooks: { duplicateRate: number; lateRate: number; lateMs: number };
  /** How long the system may take to settle after the workload before the ledger is read anyway. */
  settleTimeoutMs: number;
  /** rabbitmqctl close_all_connections instead of closing only the stack's connections. */
  closeAllAmqp: boolean;
  log?: (line: string) => void;
}

export interface ChaosResult {
  options: Omit<ChaosOptions, 'signingKey' | 'log' | 'keysFile'>;
  startedAt: string;
  durationS: number;
  phases: Record<Phase | 'settle', { startMs: number; endMs: number; ops: number }>;
  clients: {
    reserveAnswered: number;
    reserveErrors: Record<string, number>;
    paid: number;
    latePaid: number;
    payThenCancel: number;
    declined: number;
    payErrors: Record<string, number>;
    cancelled: number;
    partialCancels: number;
    cancelErrors: Record<string, number>;
    retries: number;
    retriedCodes: Record<string, number>;
  };
  faults: FaultRecord[];
  balancerFailures: Record<string, number>;
  settled: { ok: boolean; ms: number; left: string[] };
  ledger: Ledger;
}

interface User {
  client: TatkalClient;
  reserveKey: string;
  reservation: Reservation | null;
  payKey: string;
  providerRef: string | null;
  cancelKey: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const random = seededRandom(opts.seed);
  const startedAt = new Date();
  const t0 = Date.now();
  const now = () => Date.now() - t0;
  const prisma = createPrisma(opts.databaseUrl, { max: 2, applicationName: 'chaos' });
  // Concurrent travellers' checks and the fault injector share it: a pool, not one client.
  const watcher = new pg.Pool({ connectionString: opts.databaseUrl, application_name: 'chaos-watch', max: 4 });
  const eventsPrefix = `chaos.${randomUUID().slice(0, 8)}.`;
  const redis = createRedis(opts.redisUrl);
  let stack: ChaosStack | null = null;
  try {
    const run = await createTestRun(prisma, {
      coaches: opts.coaches,
      berthsPerCoach: opts.berthsPerCoach,
      racBerths: 2,
      daysAhead: 1,
    });
    stack = await startChaosStack({
      databaseUrl: opts.databaseUrl,
      redisUrl: opts.redisUrl,
      amqpUrl: opts.amqpUrl,
      keysFile: opts.keysFile,
      eventsPrefix,
      seed: opts.seed,
      holdTtlMs: opts.holdTtlMs,
      webhooks: opts.webhooks,
    });
    const s = stack;
    log(`chaos: stack up in ${(now() / 1000).toFixed(1)} s (${s.names().join(', ')}); seed ${opts.seed}`);
    const tokens = await mintTokens(opts.signingKey, opts.users + 1);
    const probe = benchClient(s.gatewayUrl, 'hash', tokens.pop()!);
    await probe.myReservations();
    await probe.myPayments();
    const users: User[] = tokens.map((token) => ({
      client: benchClient(s.gatewayUrl, 'hash', token),
      reserveKey: randomUUID(),
      reservation: null,
      payKey: randomUUID(),
      providerRef: null,
      cancelKey: randomUUID(),
    }));
    const clientDeadline = () => Date.now() + 180_000;
    const counts = (m: Record<string, number>, k: string) => {
      m[k] = (m[k] ?? 0) + 1;
    };
    const clients: ChaosResult['clients'] = {
      reserveAnswered: 0,
      reserveErrors: {},
      paid: 0,
      latePaid: 0,
      payThenCancel: 0,
      declined: 0,
      payErrors: {},
      cancelled: 0,
      partialCancels: 0,
      cancelErrors: {},
      retries: 0,
      retriedCodes: {},
    };
    const failedCancels: { reservationId: string; passengerIds: string[] | null; code: string }[] = [];
    const tally = (a: { retries: number; retriedCodes: Record<string, number> }) => {
      clients.retries += a.retries;
      for (const [k, v] of Object.entries(a.retriedCodes)) clients.retriedCodes[k] = (clients.retriedCodes[k] ?? 0) + v;
    };

    // ── the faults, fired at points of each phase's progress ──
    const plan = planFaults(opts.seed, opts.faults);
    const progress: Record<Phase, { done: number; total: number; started: boolean; ended: boolean }> = {
      rush: { done: 0, total: 0, started: false, ended: false },
      pay: { done: 0, total: 0, started: false, ended: false },
      cancel: { done: 0, total: 0, started: false, ended: false },
    };
    const reached = (f: PlannedFault) => {
      const p = progress[f.phase];
      return p.ended || (p.started && p.done >= f.at * p.total);
    };
    const faults: FaultRecord[] = [];
    const busy = new Map<string, Promise<void>>();
    const healthyProbe = async (target: string) => {
      for (const deadline = Date.now() + 120_000; ; ) {
        try {
          if (!target.startsWith('payment')) await probe.myReservations();
          if (!target.startsWith('booking')) await probe.myPayments();
          return;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await sleep(100);
        }
      }
    };
    const fire = async (f: PlannedFault) => {
      const firedAt = now();
      const rec: FaultRecord = { ...f, firedAtMs: firedAt, detail: '', readyMs: null, healthyMs: null };
      faults.push(rec);
      try {
        if (f.kind === 'close-amqp') {
          const before = await amqpConnectionCount(s);
          rec.detail = await closeAmqpConnections(s, opts.closeAllAmqp);
          // Healthy: the stack's processes have connected again (as many connections as before).
          for (const deadline = Date.now() + 120_000; (await amqpConnectionCount(s)) < before; await sleep(250))
            if (Date.now() > deadline) throw new Error(`fewer than ${before} RabbitMQ connections after 120 s`);
          rec.healthyMs = now() - firedAt;
          return;
        }
        let target = f.target;
        if (f.kind === 'kill-leaseholder') {
          target = await findLeaseholder(watcher, redis, run.runId, s);
          rec.detail = target ? `leaseholder ${target}` : 'no leaseholder seen: booking-1';
          target ??= 'booking-1';
          rec.target = target;
        }
        const name = target!;
        const previous = busy.get(name);
        const job = (async () => {
          await previous;
          await s.kill(name);
          rec.detail ||= `kill -9 ${name}`;
          await sleep(f.downMs);
          await s.restart(name);
          rec.readyMs = now() - firedAt;
          await healthyProbe(name);
          rec.healthyMs = now() - firedAt;
        })();
        busy.set(name, job);
        await job;
      } catch (err) {
        rec.error = err instanceof Error ? err.message : String(err);
      }
      log(
        `fault ${f.kind} ${rec.target ?? ''} at ${(firedAt / 1000).toFixed(1)} s ` +
          `(${f.phase} ${Math.round(f.at * 100)}%): ${rec.detail}; ready ${rec.readyMs ?? '-'} ms, ` +
          `healthy ${rec.healthyMs ?? '-'} ms${rec.error ? `; ${rec.error}` : ''}`,
      );
    };
    let workloadDone = false;
    const injector = (async () => {
      const pending = [...plan];
      const fired: Promise<void>[] = [];
      while (pending.length > 0 && !workloadDone) {
        for (const f of pending.filter(reached)) {
          pending.splice(pending.indexOf(f), 1);
          fired.push(fire(f));
        }
        await sleep(50);
      }
      await Promise.all(fired);
    })();

    const phases = {} as ChaosResult['phases'];
    const phase = async (name: Phase, total: number, work: () => Promise<void>) => {
      phases[name] = { startMs: now(), endMs: 0, ops: total };
      Object.assign(progress[name], { total, started: true });
      await work();
      progress[name].ended = true;
      phases[name].endMs = now();
    };

    // ── the rush: every user reserves once (one idempotency key, however many attempts) ──
    const inputs = users.map((_, i) => reserveInput(i, run));
    await phase('rush', users.length, async () => {
      await runPool(users.length, opts.concurrency, Number.POSITIVE_INFINITY, async (i) => {
        const u = users[i]!;
        const a = await withRetry(
          () => u.client.reserve(inputs[i]!, { idempotencyKey: u.reserveKey, wait: false, retry: false }),
          clientDeadline(),
        );
        tally(a);
        if (a.value) {
          u.reservation = a.value;
          clients.reserveAnswered++;
        } else counts(clients.reserveErrors, a.error!);
        progress.rush.done++;
      });
      // A QUEUED answer is polled (by its PNR) until the queue decides, as a front end does.
      await runPool(users.length, opts.concurrency, Number.POSITIVE_INFINITY, async (i) => {
        const u = users[i]!;
        while (u.reservation?.status === 'QUEUED') {
          const pnr = u.reservation.pnr;
          const a = await withRetry(() => u.client.reservation(pnr), clientDeadline());
          tally(a);
          if (a.value) u.reservation = { ...u.reservation, ...a.value } as Reservation;
          if (u.reservation.status === 'QUEUED') await sleep(500);
        }
      });
    });
    const byStatus = (xs: User[]) =>
      xs.reduce<Record<string, number>>((m, u) => {
        counts(m, u.reservation?.status ?? 'none');
        return m;
      }, {});
    log(`rush: ${clients.reserveAnswered} answered; ${JSON.stringify(byStatus(users))} after ${now() / 1000} s`);

    // ── payment: every HELD reservation pays (a few decline at the checkout) ──
    const holders = users.filter((u) => u.reservation?.status === 'HELD');
    await phase('pay', holders.length, async () => {
      await runPool(holders.length, opts.concurrency, Number.POSITIVE_INFINITY, async (j) => {
        const u = holders[j]!;
        // Who this traveller is: one who declines, pays after the hold ran out, cancels right
        // after paying (before or after booking confirmed), or simply pays.
        const draw = random();
        const kind =
          draw < opts.declineRate
            ? 'decline'
            : draw < opts.declineRate + opts.latePayRate
              ? 'late'
              : draw < opts.declineRate + opts.latePayRate + opts.payThenCancelRate
                ? 'pay-then-cancel'
                : 'pay';
        const a = await withRetry(
          () => u.client.pay(u.reservation!.id, { idempotencyKey: u.payKey, retry: false }),
          clientDeadline(),
        );
        tally(a);
        if (!a.value) {
          counts(clients.payErrors, a.error!);
          progress.pay.done++;
          return;
        }
        u.providerRef = a.value.providerRef;
        if (kind === 'late') {
          // The hold runs out at the checkout page: the bench moves its end to now (as if the
          // traveller had stayed away its whole length) and waits for the sweeper to expire it.
          await watcher.query(
            `UPDATE booking.reservations SET hold_expires_at = now() WHERE id = $1 AND status = 'HELD'`,
            [u.reservation!.id],
          );
          await waitUntil(async () => {
            const { rows } = await watcher.query<{ status: string }>(
              'SELECT status FROM booking.reservations WHERE id = $1',
              [u.reservation!.id],
            );
            return rows[0]!.status !== 'HELD';
          }, 60_000);
        }
        const outcome = kind === 'decline' ? 'fail' : 'succeed';
        const c = await withRetry(async () => {
          const res = await fetch(`${s.providerUrl}/payments/${encodeURIComponent(u.providerRef!)}/${outcome}`, {
            method: 'POST',
            headers: { accept: 'application/json' },
          });
          await res.arrayBuffer();
          // 409: settled already (an earlier attempt got through).
          if (!res.ok && res.status !== 409) throw Object.assign(new Error(`HTTP ${res.status}`), { name: 'Checkout' });
        }, clientDeadline());
        if (c.error) counts(clients.payErrors, `checkout ${c.error}`);
        else if (kind === 'decline' || kind === 'pay-then-cancel') {
          if (kind === 'decline') clients.declined++;
          else {
            clients.paid++;
            clients.payThenCancel++;
          }
          // A declined traveller gives the held berths back rather than letting the hold run out;
          // another cancels the moment they paid, racing the confirmation.
          const r = u.reservation!;
          const x = await withRetry(() => u.client.cancel(r.pnr, { idempotencyKey: u.cancelKey }), clientDeadline());
          tally(x);
          // INVALID_STATE: the hold was released already (booking had the decline first).
          if (x.error) {
            counts(clients.payErrors, `cancel after ${kind} ${x.error}`);
            failedCancels.push({ reservationId: r.id, passengerIds: null, code: x.error });
          }
        } else {
          clients.paid++;
          if (kind === 'late') clients.latePaid++;
        }
        progress.pay.done++;
      });
      // Booking confirms asynchronously (webhook -> payment -> RabbitMQ -> booking): the phase
      // ends when every payment the provider captured has its reservation decided.
      await waitUntil(async () => (await unconfirmedPaid(watcher, s.providerUrl)) === 0, 120_000);
    });
    log(
      `payment: ${clients.paid} paid (${clients.latePaid} after the hold ran out, ${clients.payThenCancel} ` +
        `cancelled at once), ${clients.declined} declined, errors ${JSON.stringify(clients.payErrors)}`,
    );

    // ── cancellations: some confirmed travellers cancel, whole or one passenger of a group ──
    const { rows: confirmed } = await watcher.query<{ id: string }>(
      `SELECT id FROM booking.reservations WHERE run_id = $1 AND status = 'CONFIRMED'`,
      [run.runId],
    );
    const confirmedIds = new Set(confirmed.map((r) => r.id));
    const cancellers = users.filter(
      (u) => u.reservation && confirmedIds.has(u.reservation.id) && random() < opts.cancelRate,
    );
    await phase('cancel', cancellers.length, async () => {
      await runPool(cancellers.length, opts.concurrency, Number.POSITIVE_INFINITY, async (j) => {
        const u = cancellers[j]!;
        const r = u.reservation!;
        const partial = r.passengers.length > 1 && random() < 0.5;
        const passengerIds = partial ? [r.passengers[r.passengers.length - 1]!.id] : undefined;
        const a = await withRetry(
          () => u.client.cancel(r.pnr, { passengerIds, idempotencyKey: u.cancelKey }),
          clientDeadline(),
        );
        tally(a);
        if (a.value) {
          clients.cancelled++;
          if (partial) clients.partialCancels++;
        } else {
          counts(clients.cancelErrors, a.error!);
          failedCancels.push({ reservationId: r.id, passengerIds: passengerIds ?? null, code: a.error! });
        }
        progress.cancel.done++;
      });
    });
    log(
      `cancel: ${clients.cancelled} cancelled (${clients.partialCancels} partly), ` +
        `errors ${JSON.stringify(clients.cancelErrors)}`,
    );

    // ── settle: faults over, then every condition of a quiet system, within the time-out ──
    workloadDone = true;
    await injector;
    phases.settle = { startMs: now(), endMs: 0, ops: 0 };
    const answered = users.filter((u) => u.reservation).map((u) => u.reservation!.id);
    let left: string[] = [];
    const settledOk = await waitUntil(async () => {
      left = unsettled(await collectState(watcher, s.providerUrl, opts.amqpUrl, eventsPrefix, run.runId), answered);
      return left.length === 0;
    }, opts.settleTimeoutMs);
    phases.settle.endMs = now();
    log(
      `settle: ${settledOk ? 'settled' : 'NOT settled'} in ` +
        `${((phases.settle.endMs - phases.settle.startMs) / 1000).toFixed(1)} s` +
        (left.length ? `: ${left.slice(0, 5).join('; ')}` : ''),
    );

    const state = await collectState(watcher, s.providerUrl, opts.amqpUrl, eventsPrefix, run.runId, true);
    const ledger = await checkLedger(prisma, state, {
      runId: run.runId,
      answered,
      faults,
      settled: settledOk,
      failedCancels,
    });
    const result: ChaosResult = {
      options: (({ signingKey: _k, log: _l, keysFile: _f, ...rest }) => rest)(opts),
      startedAt: startedAt.toISOString(),
      durationS: +(now() / 1000).toFixed(1),
      phases,
      clients,
      faults,
      balancerFailures: Object.fromEntries(Object.entries(s.balancers).map(([k, b]) => [k, b.failures])),
      settled: { ok: settledOk, ms: phases.settle.endMs - phases.settle.startMs, left },
      ledger,
    };
    return result;
  } finally {
    if (stack) await stack.stop().catch((err: unknown) => log(`stack stop: ${String(err)}`));
    await watcher.end().catch(() => {});
    redis.disconnect();
    await prisma.$disconnect();
  }
}

/** Polls `cond` until true or `timeoutMs`; true if it held. */
export async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await sleep(500);
  }
}

/** Payments the provider captured whose reservation is still HELD or QUEUED. */
async function unconfirmedPaid(watcher: pg.Pool, providerUrl: string): Promise<number> {
  const payments = (await (await fetch(`${providerUrl}/payments`)).json()) as {
    status: string;
    metadata: { reservationId?: string };
  }[];
  const ids = payments
    .filter((p) => p.status !== 'pending' && p.status !== 'failed')
    .map((p) => p.metadata.reservationId);
  const { rows } = await watcher.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM booking.reservations WHERE id = ANY($1::uuid[]) AND status IN ('HELD', 'QUEUED')`,
    [ids],
  );
  return rows[0]!.n;
}

async function amqpConnectionCount(stack: ChaosStack): Promise<number> {
  const { execFile } = await import('node:child_process');
  const { localPortsOf } = await import('../../packages/testkit/src/processes.ts');
  const pids = stack
    .names()
    .map((n) => stack.process(n)?.pid)
    .filter((p): p is number => p !== undefined);
  const ours = localPortsOf(pids);
  const out = await new Promise<string>((resolve, reject) =>
    execFile('rabbitmqctl', ['-q', 'list_connections', 'peer_port'], (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    ),
  );
  return out.split('\n').filter((l) => ours.has(Number(l.trim()))).length;
}
