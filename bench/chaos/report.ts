// The chaos run's report in Markdown: what ran, each fault and its recovery, the ledger's figures
// and every check with its violations.
import type { ChaosResult } from './run.ts';

const rupees = (paise: number) => `₹${(paise / 100).toLocaleString('en-IN', { minimumFractionDigits: 2 })}`;
const s = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(1)} s`);

export function chaosMarkdown(r: ChaosResult): string {
  const o = r.options;
  const l = r.ledger;
  const balanced =
    l.money.confirmedFaresPaise + l.money.refundedPaise + l.money.chargesKeptPaise === l.money.capturedPaise;
  const left = r.settled.left.length ? ` (left: ${r.settled.left.join('; ')})` : '';
  const lines = [
    `# Chaos run, seed ${o.seed}: ledger ${l.ok ? 'PASSED' : 'FAILED'}`,
    '',
    `${r.startedAt}; ${o.users} travellers (${o.concurrency} in flight) on one run of ${o.coaches} x ` +
      `${o.berthsPerCoach} berths; ${r.faults.length} faults; ${r.durationS} s in all. Two booking and two ` +
      `payment instances behind the gateway; the provider delivers ${o.webhooks.duplicateRate * 100}% of ` +
      `webhooks twice, holds ${o.webhooks.lateRate * 100}% back up to ${o.webhooks.lateMs} ms and shuffles them.`,
    '',
    '## Phases',
    '',
    '| phase | from | to | operations |',
    '|---|---:|---:|---:|',
    ...Object.entries(r.phases).map(([k, p]) => `| ${k} | ${s(p.startMs)} | ${s(p.endMs)} | ${p.ops} |`),
    '',
    `Clients: ${r.clients.reserveAnswered} reservations answered, ${r.clients.paid} paid, ${r.clients.declined} ` +
      `declined, ${r.clients.cancelled} cancelled (${r.clients.partialCancels} partly); ${r.clients.retries} retries ` +
      `with the same idempotency key (${JSON.stringify(r.clients.retriedCodes)}). Errors given up on: reserve ` +
      `${JSON.stringify(r.clients.reserveErrors)}, pay ${JSON.stringify(r.clients.payErrors)}, cancel ` +
      `${JSON.stringify(r.clients.cancelErrors)}. Balancer 502/503 answers: ${JSON.stringify(r.balancerFailures)}.`,
    '',
    '## Faults',
    '',
    '| # | at | phase (progress) | fault | what was hit | down for | ready after | healthy after |',
    '|---:|---:|---|---|---|---:|---:|---:|',
    ...r.faults.map(
      (f, i) =>
        `| ${i + 1} | ${s(f.firedAtMs)} | ${f.phase} (${Math.round(f.at * 100)}%) | ${f.kind} | ${f.detail}` +
        `${f.error ? ` (error: ${f.error})` : ''} | ${f.kind === 'close-amqp' ? '—' : s(f.downMs)} | ` +
        `${s(f.readyMs)} | ${s(f.healthyMs)} |`,
    ),
    '',
    '"Ready": the restarted process answers /ready. "Healthy": a request through the gateway that needs it',
    'succeeds again (for RabbitMQ: every process of the stack has connected again).',
    '',
    '## Ledger',
    '',
    `Money (paise): captured ${l.money.capturedPaise} (${rupees(l.money.capturedPaise)}, ` +
      `${l.money.capturedPayments} payments) = ` +
      `confirmed fares ${l.money.confirmedFaresPaise} + refunds ${l.money.refundedPaise} + charges kept ` +
      `${l.money.chargesKeptPaise}` +
      ` (${balanced ? 'holds' : 'DOES NOT HOLD'}).`,
    '',
    `Captured payments by outcome: ${Object.entries(l.money.byOutcome)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
    `Reservations by status: ${Object.entries(l.reservations)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; ${l.answeredPnrs} PNRs answered to clients. Seats: ${l.seats.seatedPassengers} passengers on ` +
      `berths, ${l.seats.overlaps} overlaps, ${l.seats.maskMismatch} mask mismatches.`,
    '',
    `Webhooks: ${l.webhooks.deliveries} deliveries, ${l.webhooks.duplicates} duplicates, ` +
      `${l.webhooks.late} held back (late), ${l.webhooks.failed} given up. ` +
      `Outboxes: booking ${l.outbox.booking}, payment ${l.outbox.payment} ` +
      `unpublished. Settled ${r.settled.ok ? 'in' : 'NOT within'} ${s(r.settled.ms)}${left}. ` +
      `Payment rows left PENDING on a final reservation (nothing captured): ${l.stalePendingPayments}.`,
    '',
    `Dead-lettered messages: ${l.dlq.length}`,
    ...l.dlq.map(
      (m) =>
        `- ${m.queue} ${m.type ?? ''} ${m.messageId ?? ''}: ${String(m.reason)}` +
        (m.accounted ? ' (accounted for)' : ' (NOT accounted for)'),
    ),
    '',
    '| check | result |',
    '|---|---|',
    ...l.checks.map((c) => `| ${c.name} | ${c.ok ? 'ok' : `**${c.violations.length} violations**`} |`),
    '',
    ...l.checks
      .filter((c) => !c.ok)
      .flatMap((c) => [`### ${c.name}`, '', ...c.violations.slice(0, 30).map((v) => `- ${v}`), '']),
  ];
  return `${lines.join('\n')}\n`;
}
