// One chaos run: the stack (stack.ts), the travellers' rush, payment phase and cancellations
// (travellers.ts), with the seeded faults (faults.ts) injected meanwhile; then it waits until the
// system has settled (every condition of settle(), not a fixed time) and checks the ledger
// (ledger.ts). Used by bench/chaos.ts (npm run bench:chaos) and by the short form in
// test/chaos.e2e.test.ts.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createRedis } from '@tatkal/common';
import { createPrisma } from '@tatkal/db';
import { seededRandom } from '../../packages/testkit/src/random.ts';
import { createTestRun } from '../../packages/testkit/src/trainRun.ts';
import { benchClient } from '../load.ts';
import { mintTokens } from '../tokens.ts';
import { type FaultRecord, type Phase, planFaults, startFaultInjector } from './faults.ts';
import { checkLedger, type Ledger, unsettled } from './ledger.ts';
import { collectState } from './state.ts';
import { type ChaosStack, startChaosStack } from './stack.ts';
import { cancel, newClients, pay, rush, waitUntil, type Workload } from './travellers.ts';

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

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
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
    const w: Workload = {
      opts,
      stack: s,
      watcher,
      runId: run.runId,
      users: tokens.map((token) => ({
        client: benchClient(s.gatewayUrl, 'hash', token),
        reserveKey: randomUUID(),
        reservation: null,
        payKey: randomUUID(),
        providerRef: null,
        cancelKey: randomUUID(),
      })),
      clients: newClients(),
      failedCancels: [],
      progress: {
        rush: { done: 0, total: 0, started: false, ended: false },
        pay: { done: 0, total: 0, started: false, ended: false },
        cancel: { done: 0, total: 0, started: false, ended: false },
      },
      phases: {} as ChaosResult['phases'],
      random: seededRandom(opts.seed),
      now,
    };
    const injector = startFaultInjector({
      plan: planFaults(opts.seed, opts.faults),
      stack: s,
      progress: w.progress,
      watcher,
      redis,
      runId: run.runId,
      probes: { booking: () => probe.myReservations(), payment: () => probe.myPayments() },
      now,
      closeAllAmqp: opts.closeAllAmqp,
      log,
    });
    await rush(w, run, log);
    await pay(w, log);
    await cancel(w, log);
    await injector.finish();

    // ── settle: faults over, then every condition of a quiet system, within the time-out ──
    const phases = w.phases;
    phases.settle = { startMs: now(), endMs: 0, ops: 0 };
    const answered = w.users.filter((u) => u.reservation).map((u) => u.reservation!.id);
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
      faults: injector.faults,
      settled: settledOk,
      failedCancels: w.failedCancels,
    });
    return {
      options: (({ signingKey: _k, log: _l, keysFile: _f, ...rest }) => rest)(opts),
      startedAt: startedAt.toISOString(),
      durationS: +(now() / 1000).toFixed(1),
      phases,
      clients: w.clients,
      faults: injector.faults,
      balancerFailures: Object.fromEntries(Object.entries(s.balancers).map(([k, b]) => [k, b.failures])),
      settled: { ok: settledOk, ms: phases.settle.endMs - phases.settle.startMs, left },
      ledger,
    };
  } finally {
    if (stack) await stack.stop().catch((err: unknown) => log(`stack stop: ${String(err)}`));
    await watcher.end().catch(() => {});
    redis.disconnect();
    await prisma.$disconnect();
  }
}
