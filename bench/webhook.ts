// The payment provider's webhooks against payment's sidecar: N signed payment.succeeded deliveries
// for N PENDING payments, C in flight; then every one delivered again (the provider's duplicates).
// Reports, per phase, how fast the sidecar answered (issue 5's target: within 100 ms) and how many
// it took per second, with CPU per process; then audits the database: each payment SUCCEEDED,
// exactly one stored event and one outbox row per payment, nothing written by the duplicates.
//
// Self-contained: its own database (tatkal_bench_webhook, dropped and re-created), auth, booking,
// payment (+ sidecar) and the provider simulator as real processes (no gateway: the provider calls
// the sidecar directly), a webhook secret and RabbitMQ names of its own. Loopback only.
//
//   npm run bench:webhook                                   # 2,000 payments, 16 in flight
//   npm run bench:webhook -- --payments 500 --concurrency 64
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createPrisma } from '@tatkal/db';
import { signatureHeader } from '../subgraphs/payment/src/webhookSignature.ts';
import { Recorder, runPool } from './load.ts';
import { createBenchDatabase } from './database.ts';
import { commandCpuSeconds, cpuDelta, processCpu } from './processes.ts';
import { SERVICE_ARGS, startStack, type Stack } from './stack.ts';
import { benchSigningKey } from './tokens.ts';
import { latencySummary, mdTable, outcomeCounts, formatCounts } from './report.ts';

const root = join(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    payments: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
    ...SERVICE_ARGS,
  },
});
const PAYMENTS = Number(args.payments);
const CONCURRENCY = Number(args.concurrency);
const DB = 'tatkal_bench_webhook';
const AMOUNT_PAISE = 245_000;

interface Phase {
  name: string;
  deliveries: number;
  seconds: number;
  perSecond: number;
  latencyMs: ReturnType<typeof latencySummary>;
  outcomes: Record<string, number>;
  cpuSeconds: Record<string, number>;
}

async function main() {
  console.log(`webhook bench: ${PAYMENTS} payments, ${CONCURRENCY} deliveries in flight`);
  const dbUrl = await createBenchDatabase(args.pg, DB);
  const prisma = createPrisma(dbUrl, { max: 2, applicationName: 'bench' });
  const signing = await benchSigningKey();
  let stack: Stack | null = null;
  try {
    stack = await startStack({
      databaseUrl: dbUrl,
      redisUrl: args.redis,
      amqpUrl: args.amqp,
      keysFile: signing.file,
      eventsPrefix: `bench.webhook.${randomUUID().slice(0, 8)}.`,
      bookingPoolSize: 10,
      payment: true,
      gateway: false,
    });
    const webhook = stack.webhook!;
    const run = randomUUID().slice(0, 8);
    const refs = Array.from({ length: PAYMENTS }, (_, i) => `sim_bench_${run}_${i}`);
    await prisma.payment.createMany({
      data: refs.map((providerRef) => ({
        reservationId: randomUUID(),
        userId: randomUUID(),
        amountPaise: AMOUNT_PAISE,
        status: 'PENDING' as const,
        providerRef,
        checkoutUrl: 'http://127.0.0.1/checkout',
      })),
    });
    // What the provider sends: one event per payment, signed afresh on every delivery.
    const events = refs.map((providerRef, i) =>
      JSON.stringify({
        id: `evt_bench_${run}_${i}`,
        type: 'payment.succeeded',
        created: Math.floor(Date.now() / 1000),
        data: { providerRef, amountPaise: AMOUNT_PAISE },
      }),
    );
    const deliver = async (body: string): Promise<string> => {
      try {
        const res = await fetch(webhook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'payment-signature': signatureHeader([webhook.secret], body) },
          body,
        });
        const answer = (await res.json()) as { outcome?: string };
        return `${res.status} ${answer.outcome ?? ''}`.trim();
      } catch (err) {
        return `NETWORK_${(err as Error).name}`;
      }
    };
    // Warm-up: the sidecar's pool, JIT; an unknown reference writes nothing (404).
    for (let i = 0; i < 50; i++)
      await deliver(
        JSON.stringify({
          id: `evt_warm_${run}_${i}`,
          type: 'payment.succeeded',
          created: Math.floor(Date.now() / 1000),
          data: { providerRef: 'sim_unknown', amountPaise: 1 },
        }),
      );

    const phases: Phase[] = [];
    for (const name of ['first delivery', 'duplicate delivery']) {
      const rec = new Recorder();
      const cpuBefore = { ...processCpu(stack.processes), ...commandCpuSeconds(['postgres']) };
      await runPool(PAYMENTS, CONCURRENCY, Number.POSITIVE_INFINITY, async (i) => {
        await rec.time(name, () => deliver(events[i]!));
      });
      const seconds = rec.now() / 1000;
      const cpuAfter = { ...processCpu(stack.processes), ...commandCpuSeconds(['postgres']) };
      const samples = rec.of(name);
      phases.push({
        name,
        deliveries: samples.length,
        seconds: +seconds.toFixed(2),
        perSecond: +(samples.length / seconds).toFixed(1),
        latencyMs: latencySummary(samples.map((s) => s.ms)),
        outcomes: outcomeCounts(samples),
        cpuSeconds: cpuDelta(cpuAfter, cpuBefore),
      });
      console.log(`${name}: ${samples.length} in ${seconds.toFixed(1)} s`);
    }

    // Each payment moved once; one stored event and one outbox row each; the duplicates wrote nothing.
    const [audit] = await prisma.$queryRaw<{ succeeded: bigint; events: bigint; outbox: bigint }[]>`
      SELECT (SELECT count(*) FROM payment.payments
              WHERE provider_ref LIKE ${`sim_bench_${run}_%`} AND status = 'SUCCEEDED') AS succeeded,
             (SELECT count(*) FROM payment.webhook_events
              WHERE provider_event_id LIKE ${`evt_bench_${run}_%`}) AS events,
             (SELECT count(*) FROM payment.outbox WHERE payload->>'type' = 'payment.succeeded') AS outbox`;
    const counts = {
      succeeded: Number(audit!.succeeded),
      events: Number(audit!.events),
      outbox: Number(audit!.outbox),
    };
    const auditOk = counts.succeeded === PAYMENTS && counts.events === PAYMENTS && counts.outbox === PAYMENTS;

    const report = {
      startedAt: new Date().toISOString(),
      machine: { cores: cpus().length, loadAverageAtStart: loadavg().map((v) => +v.toFixed(2)) },
      payments: PAYMENTS,
      concurrency: CONCURRENCY,
      phases,
      audit: { ...counts, ok: auditOk },
    };
    const lat = (l: Phase['latencyMs']) => `${l.p50} / ${l.p95} / ${l.p99} / ${l.max}`;
    const md = [
      `# Webhook bench ${report.startedAt}`,
      '',
      `${PAYMENTS} signed payment.succeeded deliveries to payment's sidecar, ${CONCURRENCY} in flight, ` +
        `then each again (duplicates). ${report.machine.cores} cores, ` +
        `load average at start ${report.machine.loadAverageAtStart.join(' ')}.`,
      '',
      ...mdTable(
        ['phase', 'deliveries/s', 'answer p50 / p95 / p99 / max (ms)', 'answers', 'CPU seconds'],
        phases.map((p) => [
          p.name,
          p.perSecond,
          lat(p.latencyMs),
          formatCounts(p.outcomes),
          formatCounts(p.cpuSeconds),
        ]),
      ),
      '',
      `audit: ${counts.succeeded} of ${PAYMENTS} payments SUCCEEDED, ${counts.events} stored events, ` +
        `${counts.outbox} outbox rows: ${auditOk ? 'each once' : 'NOT each once'}`,

      '',
      'postgres CPU is every process of that name on this machine, whoever it serves.',
    ].join('\n');
    console.log(`\n${md}\n`);
    mkdirSync(join(root, 'bench/results'), { recursive: true });
    const base = join(root, 'bench/results', `webhook-${report.startedAt.replace(/[:.]/g, '-')}`);
    writeFileSync(`${base}.json`, JSON.stringify(report, null, 2));
    writeFileSync(`${base}.md`, `${md}\n`);
    console.log(`written: ${base}.{json,md}`);
    if (!auditOk) process.exitCode = 1;
  } finally {
    if (stack) await stack.stop().catch(() => {});
    await prisma.$disconnect();
    signing.remove();
  }
}

await main();
