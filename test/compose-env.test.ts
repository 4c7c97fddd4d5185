// docker-compose.yml on a fresh machine: interpolated the way `docker compose config` does with
// .env.example as the .env file (no Docker here, so the interpolation is done below), every
// required variable is set, each app process's environment parses with its own config, images are
// pinned, published ports bind loopback, Elasticsearch is an opt-in profile, and the exporters
// feed the infrastructure dashboard.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { loadGatewayConfig } from '../gateway/src/config.ts';
import { loadAuthConfig } from '../subgraphs/auth/src/config.ts';
import { loadBookingConfig } from '../subgraphs/booking/src/config.ts';
import { loadPaymentConfig } from '../subgraphs/payment/src/config.ts';
import { loadSearchConfig } from '../subgraphs/search/src/config.ts';
import { metricNamesIn } from './support/promql.ts';

const root = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** A .env file as compose reads it: KEY=VALUE lines, # comments, optional quotes. */
function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || line.trimStart().startsWith('#')) continue;
    env[m[1]!] = m[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  return env;
}

/**
 * Compose's interpolation of one string: $$ (a literal $), $VAR, ${VAR}, ${VAR:-default},
 * ${VAR-default}, ${VAR:?error}, ${VAR?error}. Missing required variables are collected.
 */
function interpolate(value: string, env: Record<string, string>, missing: string[]): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (all, name: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
      if (all === '$$') return '$';
      const key = (name ?? bare)!;
      const set = key in env;
      const value = env[key];
      const empty = !set || value === '';
      if (op === ':-') return empty ? arg! : value!;
      if (op === '-') return set ? value! : arg!;
      if (op === ':?' || op === '?') {
        if (op === ':?' ? empty : !set) missing.push(`${key}: ${arg}`);
        return value ?? '';
      }
      return value ?? '';
    },
  );
}

function interpolateAll<T>(node: T, env: Record<string, string>, missing: string[]): T {
  if (typeof node === 'string') return interpolate(node, env, missing) as T;
  if (Array.isArray(node)) return node.map((n) => interpolateAll(n, env, missing)) as T;
  if (node && typeof node === 'object')
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateAll(v, env, missing)])) as T;
  return node;
}

interface Service {
  image?: string;
  profiles?: string[];
  environment?: Record<string, string | number | null>;
  ports?: string[];
  depends_on?: Record<string, { condition?: string; required?: boolean }>;
}
type Compose = { services: Record<string, Service> };

const raw = parseDocument(read('docker-compose.yml'), { merge: true }).toJS({ maxAliasCount: 1000 }) as Compose;
const envExample = parseEnvFile(read('.env.example'));
const missing: string[] = [];
const compose = interpolateAll(raw, envExample, missing);
const services = compose.services;
const envOf = (name: string) =>
  Object.fromEntries(
    Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, v == null ? '' : String(v)]),
  );

describe('docker-compose.yml with .env.example (what `cp .env.example .env && docker compose up` sees)', () => {
  it('interpolates: .env.example sets every required variable; without it compose would refuse', () => {
    expect(missing).toEqual([]);
    const withoutEnv: string[] = [];
    interpolateAll(raw, {}, withoutEnv);
    const required = new Set(withoutEnv.map((m) => m.slice(0, m.indexOf(':'))));
    expect([...required].sort()).toEqual(
      ['ADMIN_PASSWORD', 'GRAFANA_ADMIN_PASSWORD', 'IDENTITY_ASSERTION_SECRET', 'PAYMENT_WEBHOOK_SECRET'].sort(),
    );
    for (const name of required) expect(envExample[name], name).toBeTruthy();
  });

  it('gives each app process settings its own config accepts (lengths, formats: what it checks at start)', () => {
    const loaders: Record<string, (env: NodeJS.ProcessEnv) => unknown> = {
      gateway: loadGatewayConfig,
      auth: loadAuthConfig,
      booking: loadBookingConfig,
      search: loadSearchConfig,
      payment: loadPaymentConfig,
    };
    for (const [name, load] of Object.entries(loaders)) expect(() => load(envOf(name)), name).not.toThrow();
    // The search backend is PostgreSQL unless ELASTICSEARCH_URL is set.
    expect(envOf('search').ELASTICSEARCH_URL).toBe('');
  });

  it('runs Elasticsearch only in the `elasticsearch` profile, at the version of the search client', () => {
    const es = services.elasticsearch!;
    expect(es.profiles).toEqual(['elasticsearch']);
    const client = JSON.parse(read('subgraphs/search/package.json')).dependencies['@elastic/elasticsearch'];
    expect(es.image).toBe(`docker.elastic.co/elasticsearch/elasticsearch:${client}`);
    // search starts without it (the dependency applies only when the profile runs it).
    expect(services.search!.depends_on!.elasticsearch).toEqual({ condition: 'service_healthy', required: false });
    for (const [name, svc] of Object.entries(services)) {
      if (name === 'elasticsearch' || name === 'search') continue;
      expect(Object.keys(svc.depends_on ?? {}), name).not.toContain('elasticsearch');
    }
  });

  it('pins every image to an exact version; the app services share the one image name', () => {
    for (const [name, svc] of Object.entries(services)) {
      if ((raw.services[name] as { build?: unknown }).build) continue; // built here: tatkal-supergraph:dev
      // PostgreSQL's versions have two parts (15.19 is a patch release of 15); every other one three.
      const exact = name === 'postgres' ? /^postgres:\d+\.\d+-\w+$/ : /^[\w./-]+:v?\d+\.\d+\.\d+(-[\w.-]+)?$/;
      expect(svc.image, name).toMatch(exact);
    }
    const appImages = new Set(
      Object.entries(raw.services)
        // The web app's static site is nginx with the built app (apps/web/Dockerfile): its own image.
        .filter(([name, s]) => (s as { build?: unknown }).build && name !== 'web')
        .map(([, s]) => s.image),
    );
    expect([...appImages]).toEqual(['tatkal-supergraph:dev']);
    expect(raw.services.web?.image).toBe('tatkal-web:dev');
  });

  it('publishes every host port on 127.0.0.1 unless PUBLISH_ADDRESS says otherwise', () => {
    const published = Object.entries(services).flatMap(([name, svc]) => (svc.ports ?? []).map((p) => [name, p]));
    expect(published.length).toBeGreaterThan(5);
    for (const [name, port] of published) expect(port, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    const open = interpolateAll(raw, { ...envExample, PUBLISH_ADDRESS: '0.0.0.0' }, []);
    expect(open.services.payment!.ports).toEqual(['0.0.0.0:4005:4005']);
  });
});

describe('infrastructure metrics: exporters, Prometheus jobs, the Grafana dashboard', () => {
  const prometheus = parse(read('ops/prometheus/prometheus.yml')) as {
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs?: { targets: string[] }[] }[];
  };
  // What each exporter serves (postgres_exporter v0.17, redis_exporter v1.74, RabbitMQ's
  // rabbitmq_prometheus per-object endpoint), plus ops/postgres-exporter/queries.yaml's own.
  const queries = parse(read('ops/postgres-exporter/queries.yaml')) as Record<
    string,
    { metrics: Record<string, unknown>[] }
  >;
  const custom = Object.entries(queries).flatMap(([prefix, q]) =>
    q.metrics.map((m) => `${prefix}_${Object.keys(m)[0]}`),
  );
  const exporterMetrics = new Set([
    ...['pg_up', 'pg_stat_database_numbackends', 'pg_stat_database_xact_commit', 'pg_stat_database_xact_rollback'],
    ...['pg_stat_database_deadlocks', 'pg_locks_count', 'pg_database_size_bytes', 'pg_settings_max_connections'],
    ...['redis_up', 'redis_connected_clients', 'redis_memory_used_bytes', 'redis_commands_processed_total'],
    ...['redis_keyspace_hits_total', 'redis_keyspace_misses_total', 'redis_evicted_keys_total'],
    ...['rabbitmq_queue_messages_ready', 'rabbitmq_queue_messages_unacked', 'rabbitmq_queue_consumers'],
    ...['rabbitmq_connections', 'rabbitmq_channel_messages_published_total'],
    ...custom,
  ]);

  it('scrapes the PostgreSQL and Redis exporters and RabbitMQ, each a compose service on its port', () => {
    const jobs = Object.fromEntries(prometheus.scrape_configs.map((j) => [j.job_name, j.static_configs?.[0]?.targets]));
    expect(jobs.postgres).toEqual(['postgres-exporter:9187']);
    expect(jobs.redis).toEqual(['redis-exporter:9121']);
    expect(jobs.rabbitmq).toEqual(['rabbitmq:15692']);
    expect(envOf('postgres-exporter').DATA_SOURCE_NAME).toMatch(/@postgres:5432\//);
    expect(envOf('redis-exporter').REDIS_ADDR).toBe('redis://redis:6379');
    expect(raw.services['postgres-exporter']!.toString()).toBeTruthy();
    expect(custom).toEqual(
      expect.arrayContaining(['tatkal_booking_overdue_holds', 'tatkal_booking_allocation_queue_oldest_wait_seconds']),
    );
    // The alert rules load from the file the PrometheusRule is generated from.
    expect(prometheus.rule_files).toEqual(['/etc/prometheus/rules/tatkal.yml']);
  });

  it('charts PostgreSQL, Redis and RabbitMQ from what their exporters serve', () => {
    const dashboard = JSON.parse(read('ops/grafana/dashboards/infrastructure.json')) as {
      panels: { type: string; title: string; targets?: { expr: string }[] }[];
    };
    const sections = new Set<string>();
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      for (const { expr } of panel.targets ?? []) {
        const names = metricNamesIn(expr);
        expect(names.length, panel.title).toBeGreaterThan(0);
        for (const name of names) {
          expect(exporterMetrics.has(name), `${panel.title}: ${name}`).toBe(true);
          sections.add(name.split('_')[0]!);
        }
      }
    }
    expect([...sections].sort()).toEqual(['pg', 'rabbitmq', 'redis', 'tatkal']);
  });
});
