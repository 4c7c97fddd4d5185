// npm run bench:chaos: the Tatkal minute (rush, payments, cancellations with refunds) on its own
// stack (two booking, two payment instances behind the gateway) while a seeded schedule kills -9
// and restarts booking, payment (with its webhook sidecar), the gateway and the allocator's
// leaseholder, closes the stack's RabbitMQ connections once, and the provider simulator delivers
// webhooks twice, late and out of order. Then the ledger check (bench/chaos/ledger.ts); the exit
// code is 1 on any violation. The report goes to bench/results/chaos-<seed>.{md,json}.
//
//   npm run bench:chaos                               # seed 1, 3,000 travellers, 10 faults
//   npm run bench:chaos -- --seed 7 --users 300 --faults 5
//
// Its own database (tatkal_bench_chaos, dropped and re-created), RabbitMQ exchanges and queues
// (deleted afterwards) and secrets; loopback only. docs/operations.md, "Chaos run".
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { root } from '../packages/testkit/src/processes.ts';
import { createBenchDatabase } from './database.ts';
import { chaosMarkdown } from './chaos/report.ts';
import { runChaos } from './chaos/run.ts';
import { SERVICE_ARGS } from './stack.ts';
import { benchSigningKey } from './tokens.ts';

const { values: args } = parseArgs({
  options: {
    ...SERVICE_ARGS,
    seed: { type: 'string', default: '1' },
    users: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '300' },
    faults: { type: 'string', default: '10' },
    coaches: { type: 'string', default: '8' },
    'berths-per-coach': { type: 'string', default: '72' },
    'hold-ttl-s': { type: 'string', default: '120' },
    'settle-timeout-s': { type: 'string', default: '240' },
    'close-all-amqp': { type: 'boolean', default: false },
    db: { type: 'string', default: 'tatkal_bench_chaos' },
    out: { type: 'string', default: join(root, 'bench/results') },
  },
});

async function main() {
  if (!args.db.startsWith('tatkal_bench'))
    throw new Error('--db: the run drops its database; the name must start with tatkal_bench');
  const databaseUrl = await createBenchDatabase(args.pg, args.db);
  const signing = await benchSigningKey();
  try {
    const result = await runChaos({
      seed: Number(args.seed),
      users: Number(args.users),
      concurrency: Number(args.concurrency),
      faults: Number(args.faults),
      coaches: Number(args.coaches),
      berthsPerCoach: Number(args['berths-per-coach']),
      databaseUrl,
      redisUrl: args.redis,
      amqpUrl: args.amqp,
      keysFile: signing.file,
      signingKey: signing.key,
      holdTtlMs: Number(args['hold-ttl-s']) * 1000,
      declineRate: 0.05,
      cancelRate: 0.3,
      latePayRate: 0.04,
      payThenCancelRate: 0.04,
      webhooks: { duplicateRate: 0.2, lateRate: 0.1, lateMs: 5_000 },
      settleTimeoutMs: Number(args['settle-timeout-s']) * 1000,
      closeAllAmqp: args['close-all-amqp'],
    });
    const md = chaosMarkdown(result);
    mkdirSync(args.out, { recursive: true });
    const base = join(args.out, `chaos-${result.options.seed}`);
    writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(`${base}.md`, md);
    console.log(`\n${md}`);
    console.log(`report: ${base}.md`);
    if (!result.ledger.ok) process.exitCode = 1;
  } finally {
    signing.remove();
  }
}

main().catch((err: unknown) => {
  console.error(`chaos run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
