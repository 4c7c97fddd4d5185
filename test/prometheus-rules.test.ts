// The alert rules (ops/prometheus/rules/tatkal.yml): Prometheus's own promtool checks them and runs
// their unit tests (tatkal.test.yml: recorded series in, the alerts that fire out); every metric
// they read is one some process exports (read from the processes' registry) or one of the
// PostgreSQL exporter's queries; every alert has a unit test that fires it and a runbook paragraph
// in docs/operations.md. promtool comes from Debian's `prometheus` package (.ci/run installs it).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { metricNamesExported, metricNamesIn } from './support/promql.ts';

const root = join(import.meta.dirname, '..');
const rulesDir = join(root, 'ops/prometheus/rules');
const rules = parse(readFileSync(join(rulesDir, 'tatkal.yml'), 'utf8')) as {
  groups: {
    name: string;
    rules: { alert: string; expr: string; labels: Record<string, string>; annotations: Record<string, string> }[];
  }[];
};
const alerts = rules.groups.flatMap((g) => g.rules);
const unitTests = parse(readFileSync(join(rulesDir, 'tatkal.test.yml'), 'utf8')) as {
  tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
};

function promtool(...args: string[]): string {
  try {
    return execFileSync('promtool', args, { cwd: rulesDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error('promtool is not installed: apt-get install prometheus (Debian ships promtool in it)');
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

describe('alert rules (ops/prometheus/rules/tatkal.yml)', () => {
  it('pass promtool check rules', () => {
    expect(promtool('check', 'rules', 'tatkal.yml')).toMatch(new RegExp(`SUCCESS: ${alerts.length} rules found`));
  }, 30_000);

  it('pass their unit tests (promtool test rules): each alert fires on recorded series, and only then', () => {
    expect(promtool('test', 'rules', 'tatkal.test.yml')).toContain('SUCCESS');
    const cases = unitTests.tests.flatMap((t) => t.alert_rule_test);
    for (const { alert } of alerts) {
      const own = cases.filter((c) => c.alertname === alert);
      expect(
        own.some((c) => c.exp_alerts.length > 0),
        `${alert} has a unit test in which it fires`,
      ).toBe(true);
    }
  }, 30_000);

  it('read only metrics the processes export, `up`, or the PostgreSQL exporter queries', async () => {
    const exported = await metricNamesExported();
    const queries = parse(readFileSync(join(root, 'ops/postgres-exporter/queries.yaml'), 'utf8')) as Record<
      string,
      { metrics: Record<string, unknown>[] }
    >;
    const fromExporter = Object.entries(queries).flatMap(([prefix, q]) =>
      q.metrics.map((m) => `${prefix}_${Object.keys(m)[0]}`),
    );
    const known = new Set([...exported, ...fromExporter, 'up']);
    for (const { alert, expr } of alerts) {
      const names = metricNamesIn(expr);
      expect(names.length, alert).toBeGreaterThan(0);
      for (const name of names) expect(known.has(name), `${alert}: ${name}`).toBe(true);
    }
    // Loading every service module takes a while on a busy machine.
  }, 120_000);

  it('covers what on-call needs, each alert with a severity and a runbook paragraph in docs/operations.md', () => {
    const names = alerts.map((a) => a.alert);
    for (const needed of [
      'TatkalDeadLetters',
      'TatkalOutboxLag',
      'TatkalWebhookSignatureFailures',
      'TatkalQueueBacklog',
      'TatkalAllocationQueueWait',
      'TatkalTryAgainRate',
      'TatkalSlowOperation',
      'TatkalEventLoopLag',
      'TatkalHoldSweeperStalled',
    ])
      expect(names).toContain(needed);
    const operations = readFileSync(join(root, 'docs/operations.md'), 'utf8');
    for (const a of alerts) {
      expect(['warning', 'critical'], a.alert).toContain(a.labels.severity);
      expect(a.annotations.runbook_url, a.alert).toBe(`docs/operations.md#${a.alert.toLowerCase()}`);
      // A heading with the alert's name (its GitHub anchor is the runbook_url's), followed by text.
      const section = new RegExp(`^#### ${a.alert}\\n\\n\\S.{80,}`, 'ms');
      expect(operations, `docs/operations.md: #### ${a.alert}`).toMatch(section);
    }
  });
});
