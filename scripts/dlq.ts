// Operator CLI for dead-letter queues (docs/events.md):
//   npm run dlq -- list [queue]            DLQ sizes (every known queue) or a count + peek of one
//   npm run dlq -- show <queue> [n]        the first n messages (default 1) with headers and body
//   npm run dlq -- replay <queue> [--all|n] move messages back to the main queue (default --all)
//   npm run dlq -- purge <queue> --yes     delete every message in the DLQ
// <queue> is the consumer's queue (booking.payment-events) or its DLQ (booking.payment-events.dlq).
// AMQP_URL (default the local broker) and EVENTS_PREFIX (default '') pick the broker and names.
import amqp from 'amqplib';
import {
  dlqName,
  eventTopology,
  inspectDlq,
  purgeDlq,
  replayDlq,
  type DlqMessage,
} from '../packages/common/src/messaging.ts';

const usage = `usage: dlq list [queue] | show <queue> [n] | replay <queue> [--all|n] | purge <queue> --yes`;

function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

const count = (arg: string | undefined, fallback: number) => {
  if (arg === undefined) return fallback;
  const n = Number(arg);
  if (!Number.isInteger(n) || n < 1) fail(`expected a positive whole number, got ${arg}\n${usage}`);
  return n;
};

function summary(m: DlqMessage) {
  const h = m.headers;
  return (
    `${m.messageId ?? '(no id)'}  ${m.type ?? '?'}  attempts=${String(h['x-attempts'] ?? '-')}  ` +
    `reason=${String(h['x-dead-letter-reason'] ?? '-')}  failedAt=${String(h['x-failed-at'] ?? '-')}\n` +
    `    error: ${String(h['x-last-error'] ?? '-')}`
  );
}

async function main() {
  const [command, queue, arg, ...rest] = process.argv.slice(2);
  if (!command || command === 'help' || command === '--help') fail(usage, command ? 0 : 2);
  const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  const model = await amqp
    .connect(url, { clientProperties: { connection_name: 'dlq-cli' } })
    .catch((err: Error) => fail(`cannot reach RabbitMQ at ${url.replace(/:[^:@/]*@/, ':***@')}: ${err.message}`, 1));
  // A missing queue closes the channel with 404; say so in one line.
  model.on('error', () => {});
  try {
    switch (command) {
      case 'list': {
        const queues = queue
          ? [queue]
          : Object.values(eventTopology(process.env.EVENTS_PREFIX ?? '').queues).map((q) => q.queue);
        for (const q of queues) {
          const res = await inspectDlq(model, q, queue ? count(arg, 10) : 0);
          console.log(`${res.queue}: ${res.count} message(s)`);
          for (const m of res.messages) console.log(`  ${summary(m)}`);
        }
        break;
      }
      case 'show': {
        if (!queue) fail(usage);
        const res = await inspectDlq(model, queue, count(arg, 1));
        console.log(
          JSON.stringify(
            {
              queue: res.queue,
              count: res.count,
              messages: res.messages.map((m) => ({ ...m, body: tryJson(m.body) })),
            },
            null,
            2,
          ),
        );
        break;
      }
      case 'replay': {
        if (!queue) fail(usage);
        const n = arg === undefined || arg === '--all' ? 'all' : count(arg, 1);
        const moved = await replayDlq(model, queue, n);
        console.log(
          `replayed ${moved} message(s) from ${dlqName(queue.replace(/\.dlq$/, ''))} to ${queue.replace(/\.dlq$/, '')}`,
        );
        break;
      }
      case 'purge': {
        if (!queue) fail(usage);
        if (![arg, ...rest].includes('--yes'))
          fail(`purge deletes every message in ${dlqName(queue.replace(/\.dlq$/, ''))}; add --yes to confirm`);
        const purged = await purgeDlq(model, queue);
        console.log(`purged ${purged} message(s)`);
        break;
      }
      default:
        fail(`unknown command ${command}\n${usage}`);
    }
  } finally {
    await model.close().catch(() => {});
  }
}

function tryJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

main().catch((err: unknown) => fail(`dlq: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`, 1));
