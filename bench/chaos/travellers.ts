// The travellers of a chaos run (run.ts) as real clients behave: every one reserves once, the
// holders pay (some decline, some pay after the hold ran out, some cancel at once), some confirmed
// ones cancel; every operation retried with its idempotency key (retry.ts). Each phase's progress
// is what the fault injector (faults.ts) fires at.
import type pg from 'pg';
import type { Reservation, TatkalClient } from '@tatkal/client';
import { reserveInput, runPool } from '../load.ts';
import type { Phase, PhaseProgress } from './faults.ts';
import { withRetry } from './retry.ts';
import type { ChaosOptions, ChaosResult } from './run.ts';
import type { ChaosStack } from './stack.ts';

export interface User {
  client: TatkalClient;
  reserveKey: string;
  reservation: Reservation | null;
  payKey: string;
  providerRef: string | null;
  cancelKey: string;
}

type Clients = ChaosResult['clients'];
type FailedCancel = { reservationId: string; passengerIds: string[] | null; code: string };

/** What the three phases share: the travellers, their tallies and the phases' progress. */
export interface Workload {
  opts: ChaosOptions;
  stack: ChaosStack;
  watcher: pg.Pool;
  runId: string;
  users: User[];
  clients: Clients;
  failedCancels: FailedCancel[];
  progress: Record<Phase, PhaseProgress>;
  phases: ChaosResult['phases'];
  random: () => number;
  now: () => number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const clientDeadline = () => Date.now() + 180_000;
const counts = (m: Record<string, number>, k: string) => {
  m[k] = (m[k] ?? 0) + 1;
};

/** Adds an operation's retries to the travellers' tally. */
function tally(clients: Clients, a: { retries: number; retriedCodes: Record<string, number> }): void {
  clients.retries += a.retries;
  for (const [k, v] of Object.entries(a.retriedCodes)) clients.retriedCodes[k] = (clients.retriedCodes[k] ?? 0) + v;
}

export const newClients = (): Clients => ({
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
});
/** Runs a phase's work, its progress visible to the fault injector. */
async function phase(w: Workload, name: Phase, total: number, work: () => Promise<void>): Promise<void> {
  w.phases[name] = { startMs: w.now(), endMs: 0, ops: total };
  Object.assign(w.progress[name], { total, started: true });
  await work();
  w.progress[name].ended = true;
  w.phases[name].endMs = w.now();
}

/** The rush: every user reserves once (one idempotency key, however many attempts). */
export async function rush(w: Workload, run: Parameters<typeof reserveInput>[1], log: (line: string) => void) {
  const { users, clients, opts } = w;
  const inputs = users.map((_, i) => reserveInput(i, run));
  await phase(w, 'rush', users.length, async () => {
    await runPool(users.length, opts.concurrency, Number.POSITIVE_INFINITY, async (i) => {
      const u = users[i]!;
      const a = await withRetry(
        () => u.client.reserve(inputs[i]!, { idempotencyKey: u.reserveKey, wait: false, retry: false }),
        clientDeadline(),
      );
      tally(clients, a);
      if (a.value) {
        u.reservation = a.value;
        clients.reserveAnswered++;
      } else counts(clients.reserveErrors, a.error!);
      w.progress.rush.done++;
    });
    // A QUEUED answer is polled (by its PNR) until the queue decides, as a front end does.
    await runPool(users.length, opts.concurrency, Number.POSITIVE_INFINITY, async (i) => {
      const u = users[i]!;
      while (u.reservation?.status === 'QUEUED') {
        const pnr = u.reservation.pnr;
        const a = await withRetry(() => u.client.reservation(pnr), clientDeadline());
        tally(clients, a);
        if (a.value) u.reservation = { ...u.reservation, ...a.value } as Reservation;
        if (u.reservation.status === 'QUEUED') await sleep(500);
      }
    });
  });
  const byStatus: Record<string, number> = {};
  for (const u of users) counts(byStatus, u.reservation?.status ?? 'none');
  log(`rush: ${clients.reserveAnswered} answered; ${JSON.stringify(byStatus)} after ${w.now() / 1000} s`);
}

/** Payment: every HELD reservation pays (a few decline at the checkout). */
export async function pay(w: Workload, log: (line: string) => void) {
  const { clients, opts } = w;
  const holders = w.users.filter((u) => u.reservation?.status === 'HELD');
  await phase(w, 'pay', holders.length, async () => {
    await runPool(holders.length, opts.concurrency, Number.POSITIVE_INFINITY, (j) => payOne(w, holders[j]!));
    // Booking confirms asynchronously (webhook -> payment -> RabbitMQ -> booking): the phase
    // ends when every payment the provider captured has its reservation decided.
    await waitUntil(async () => (await unconfirmedPaid(w.watcher, w.stack.providerUrl)) === 0, 120_000);
  });
  log(
    `payment: ${clients.paid} paid (${clients.latePaid} after the hold ran out, ${clients.payThenCancel} ` +
      `cancelled at once), ${clients.declined} declined, errors ${JSON.stringify(clients.payErrors)}`,
  );
}

/**
 * One traveller at the checkout: one who declines, pays after the hold ran out, cancels right
 * after paying (before or after booking confirmed), or simply pays.
 */
async function payOne(w: Workload, u: User): Promise<void> {
  const { clients, opts, watcher } = w;
  const draw = w.random();
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
  tally(clients, a);
  if (!a.value) {
    counts(clients.payErrors, a.error!);
    w.progress.pay.done++;
    return;
  }
  u.providerRef = a.value.providerRef;
  if (kind === 'late') {
    // The hold runs out at the checkout page: the bench moves its end to now (as if the
    // traveller had stayed away its whole length) and waits for the sweeper to expire it.
    await watcher.query(`UPDATE booking.reservations SET hold_expires_at = now() WHERE id = $1 AND status = 'HELD'`, [
      u.reservation!.id,
    ]);
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
    const res = await fetch(`${w.stack.providerUrl}/payments/${encodeURIComponent(u.providerRef!)}/${outcome}`, {
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
    tally(clients, x);
    // INVALID_STATE: the hold was released already (booking had the decline first).
    if (x.error) {
      counts(clients.payErrors, `cancel after ${kind} ${x.error}`);
      w.failedCancels.push({ reservationId: r.id, passengerIds: null, code: x.error });
    }
  } else {
    clients.paid++;
    if (kind === 'late') clients.latePaid++;
  }
  w.progress.pay.done++;
}

/** Cancellations: some confirmed travellers cancel, whole or one passenger of a group. */
export async function cancel(w: Workload, log: (line: string) => void) {
  const { clients, opts } = w;
  const { rows: confirmed } = await w.watcher.query<{ id: string }>(
    `SELECT id FROM booking.reservations WHERE run_id = $1 AND status = 'CONFIRMED'`,
    [w.runId],
  );
  const confirmedIds = new Set(confirmed.map((r) => r.id));
  const cancellers = w.users.filter(
    (u) => u.reservation && confirmedIds.has(u.reservation.id) && w.random() < opts.cancelRate,
  );
  await phase(w, 'cancel', cancellers.length, async () => {
    await runPool(cancellers.length, opts.concurrency, Number.POSITIVE_INFINITY, async (j) => {
      const u = cancellers[j]!;
      const r = u.reservation!;
      const partial = r.passengers.length > 1 && w.random() < 0.5;
      const passengerIds = partial ? [r.passengers[r.passengers.length - 1]!.id] : undefined;
      const a = await withRetry(
        () => u.client.cancel(r.pnr, { passengerIds, idempotencyKey: u.cancelKey }),
        clientDeadline(),
      );
      tally(clients, a);
      if (a.value) {
        clients.cancelled++;
        if (partial) clients.partialCancels++;
      } else {
        counts(clients.cancelErrors, a.error!);
        w.failedCancels.push({ reservationId: r.id, passengerIds: passengerIds ?? null, code: a.error! });
      }
      w.progress.cancel.done++;
    });
  });
  log(
    `cancel: ${clients.cancelled} cancelled (${clients.partialCancels} partly), ` +
      `errors ${JSON.stringify(clients.cancelErrors)}`,
  );
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
