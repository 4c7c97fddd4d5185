// Static checks of the container stack (no Docker needed): docker-compose.yml against
// supergraph.yaml, the workspace and the Dockerfile, so a renamed subgraph, a moved port or a new
// workspace package breaks here instead of at `docker compose up`.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { parseDocument } from 'yaml';
import { metricNamesExported, metricNamesIn } from './support/promql.ts';
import { SERVICE_NODE_OPTIONS } from '../scripts/nodeOptions.ts';

const root = new URL('../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

type Env = Record<string, string>;
interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; target?: string };
  command?: string | string[];
  environment?: Record<string, unknown> | string[];
  ports?: (string | number | { target: number | string; published?: number | string })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  volumes?: (string | { source?: string })[];
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** Parses YAML strictly: syntax errors, duplicate keys and unresolved aliases all throw. */
function parseYaml<T>(text: string, opts: { merge?: boolean } = {}): T {
  // `merge: true` resolves `<<: *anchor` the way docker compose does (YAML 1.1 merge keys).
  const doc = parseDocument(text, { merge: opts.merge ?? false, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'));
  return doc.toJS({ maxAliasCount: 1000 }) as T;
}

const composeText = read('docker-compose.yml');
const compose = parseYaml<Compose>(composeText, { merge: true });
const supergraph = parseYaml<{ subgraphs: Record<string, { routing_url: string }> }>(
  readFileSync(new URL('../supergraph.yaml', import.meta.url), 'utf8'),
);
const dockerfile = read('Dockerfile');
const services = compose.services;

function envOf(svc: Service): Env {
  const env: Env = {};
  if (Array.isArray(svc.environment)) {
    for (const entry of svc.environment) {
      const i = entry.indexOf('=');
      env[i < 0 ? entry : entry.slice(0, i)] = i < 0 ? '' : entry.slice(i + 1);
    }
  } else {
    for (const [k, v] of Object.entries(svc.environment ?? {})) env[k] = v == null ? '' : String(v);
  }
  return env;
}

/** Host ports published for a container port (short "host:container" or "ip:host:container", or long syntax). */
function publishedFor(svc: Service, containerPort: number): number[] {
  const out: number[] = [];
  for (const p of svc.ports ?? []) {
    if (typeof p === 'object') {
      if (Number(p.target) === containerPort && p.published !== undefined) out.push(Number(p.published));
      continue;
    }
    const parts = String(p)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    if (parts.length < 2) continue; // a bare container port gets a random host port
    if (Number(parts.at(-1)) === containerPort) out.push(Number(parts.at(-2)));
  }
  return out;
}

function dependsOn(svc: Service): Record<string, string | undefined> {
  const deps = svc.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, undefined]));
  return Object.fromEntries(Object.entries(deps).map(([name, d]) => [name, d?.condition]));
}

const healthTest = (svc: Service) => [svc.healthcheck?.test ?? []].flat().join(' ');
const buildsFromDockerfile = (svc: Service) => svc.build !== undefined;
// The payment provider simulator builds from the same image but is a stand-in, not an app service.
const helperServices = ['migrate', 'payment-provider'];
// The web app's static site (apps/web/Dockerfile, nginx): built, but no Node process of the app.
const staticServices = ['web'];
const observabilityServices = ['prometheus', 'grafana', 'jaeger', ...exporterServices()];
/** The exporters Prometheus scrapes for the infrastructure dashboard (test/compose-env.test.ts). */
function exporterServices(): string[] {
  return ['postgres-exporter', 'redis-exporter'];
}
// The load balancer in front of the gateway (ops/nginx/gateway-lb.conf).
const edgeServices = ['gateway-lb'];
// What `docker compose up --scale booking=3 --scale gateway=2` (README, compose header) scales.
const scaledServices = ['booking', 'gateway'];
const appServices = Object.keys(services).filter(
  (n) => buildsFromDockerfile(services[n]!) && !helperServices.includes(n) && !staticServices.includes(n),
);
const infraServices = Object.keys(services).filter(
  (n) => !buildsFromDockerfile(services[n]!) && !observabilityServices.includes(n) && !edgeServices.includes(n),
);
const subgraphs = Object.entries(supergraph.subgraphs).map(([name, cfg]) => {
  const url = new URL(cfg.routing_url);
  return { name, url, port: Number(url.port) };
});
const gatewayEnv = envOf(services.gateway ?? {});

describe('docker-compose.yml', () => {
  it('parses (strict YAML) and declares the expected services', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining([
        'postgres',
        'redis',
        'rabbitmq',
        'elasticsearch',
        'migrate',
        'gateway',
        ...subgraphs.map((s) => s.name),
      ]),
    );
    expect(infraServices.sort()).toEqual(['elasticsearch', 'postgres', 'rabbitmq', 'redis']);
    expect(appServices.sort()).toEqual(['gateway', ...subgraphs.map((s) => s.name)].sort());
  });

  it('merges the shared app settings into every app service (anchors resolved)', () => {
    for (const name of [...appServices, 'migrate']) {
      const env = envOf(services[name]!);
      expect(env.DATABASE_URL, name).toBe('postgresql://tatkal:tatkal@postgres:5432/tatkal');
      expect(env.REDIS_URL, name).toBe('redis://redis:6379');
      expect(env.AMQP_URL, name).toBe('amqp://guest:guest@rabbitmq:5672');
      expect(env.NODE_ENV, name).toBe('production');
      expect(env.LOG_LEVEL, name).toBeTruthy();
      expect(env.AUTH_ISSUER, name).toBe('tatkal-auth');
      expect(env.AUTH_AUDIENCE, name).toBe('tatkal-api');
      expect(env.AUTH_JWKS_URL, name).toBe(`http://auth:${envOf(services.auth!).PORT}/.well-known/jwks.json`);
      expect(
        Object.keys(services[name]!).some((k) => k === '<<'),
        name,
      ).toBe(false);
    }
  });

  it('one service per supergraph.yaml subgraph, on its routing_url port, on the stack network, not published', () => {
    expect(subgraphs.length).toBeGreaterThan(0);
    for (const { name, url, port } of subgraphs) {
      expect(url.hostname, name).toBe('localhost');
      expect(url.pathname, name).toBe('/graphql');
      const svc = services[name];
      expect(svc, `compose service "${name}"`).toBeDefined();
      expect(Number(envOf(svc!).PORT), `${name} PORT`).toBe(port);
      // Loopback is the default (HOST): inside a container the gateway comes over the network.
      expect(envOf(svc!).HOST, `${name} HOST`).toBe('0.0.0.0');
      expect(publishedFor(svc!, port), `${name} must not publish ${port}`).toEqual([]);
      // In production (every app service here) an unsigned request is refused; the secret is required.
      expect(envOf(svc!).NODE_ENV, name).toBe('production');
      expect(envOf(svc!).IDENTITY_ASSERTION_SECRET, name).toMatch(/^\$\{IDENTITY_ASSERTION_SECRET:\?[^}]*\}$/);
      expect([svc!.command].flat().join(' '), `${name} command`).toBe(`node subgraphs/${name}/src/index.js`);
    }
  });

  it('points the gateway at each subgraph by service name and port', () => {
    for (const { name, port } of subgraphs) {
      expect(gatewayEnv[`${name.toUpperCase()}_URL`], `${name.toUpperCase()}_URL`).toBe(
        `http://${name}:${port}/graphql`,
      );
    }
    expect(gatewayEnv.SUPERGRAPH_PATH).toBe('/app/supergraph.graphql');
    expect(Number(gatewayEnv.PORT)).toBe(4000);
    // Published by the load balancer in front, not by the (scaled) gateway.
    expect(publishedFor(services['gateway-lb']!, 4000)).toContain(4000);
  });

  it('gateway waits for every subgraph to be healthy', () => {
    const deps = dependsOn(services.gateway!);
    for (const { name } of subgraphs) expect(deps[name], `gateway → ${name}`).toBe('service_healthy');
  });

  it('publishes the payment webhook sidecar on 4005', () => {
    expect(envOf(services.payment!).WEBHOOK_PORT).toBe('4005');
    expect(publishedFor(services.payment!, 4005)).toContain(4005);
  });

  it('runs the payment provider simulator on 4006, delivering to the webhook sidecar with the same secret', () => {
    const svc = services['payment-provider']!;
    const env = envOf(svc);
    expect([svc.command].flat().join(' ')).toBe('node subgraphs/payment/src/provider/index.js');
    expect(env.PROVIDER_PORT).toBe('4006');
    expect(publishedFor(svc, 4006)).toContain(4006);
    expect(env.WEBHOOK_URL).toBe(`http://payment:${envOf(services.payment!).WEBHOOK_PORT}/webhooks/payments`);
    expect(env.PAYMENT_WEBHOOK_SECRET).toBe(envOf(services.payment!).PAYMENT_WEBHOOK_SECRET);
    expect(envOf(services.payment!).PROVIDER_URL).toBe('http://payment-provider:4006');
    expect(healthTest(svc)).toContain('http://127.0.0.1:4006/health');
    const build = svc.build as { target?: string };
    expect(build.target).toBe('runtime');
  });

  it('gives every app service a node health check on its own port and conditioned dependencies', () => {
    for (const name of appServices) {
      const svc = services[name]!;
      const port = envOf(svc).PORT;
      const test = [svc.healthcheck?.test ?? []].flat();
      expect(test[0], `${name} healthcheck`).toBe('CMD');
      expect(test.slice(1, 3), `${name} healthcheck uses node`).toEqual(['node', '-e']);
      expect(test.join(' '), `${name} healthcheck port`).toContain(`http://127.0.0.1:${port}/health`);
      expect(svc.healthcheck?.disable, name).not.toBe(true);

      const deps = dependsOn(svc);
      expect(deps.postgres, `${name} → postgres`).toBe('service_healthy');
      expect(deps.redis, `${name} → redis`).toBe('service_healthy');
      expect(deps.rabbitmq, `${name} → rabbitmq`).toBe('service_healthy');
      expect(deps.migrate, `${name} → migrate`).toBe('service_completed_successfully');
      for (const [dep, condition] of Object.entries(deps)) {
        expect(services[dep], `${name} depends on unknown service ${dep}`).toBeDefined();
        expect(['service_healthy', 'service_completed_successfully'], `${name} → ${dep}`).toContain(condition);
        if (condition === 'service_healthy')
          expect(services[dep]!.healthcheck, `${dep} needs a healthcheck`).toBeDefined();
      }
    }
    expect(dependsOn(services.search!).elasticsearch).toBe('service_healthy');
  });

  it('runs migrate-deploy and the compiled seed once, after postgres is healthy', () => {
    const migrate = services.migrate!;
    const cmd = [migrate.command].flat().join(' ');
    // The client was generated at image build (Dockerfile); the image has no Prisma 7 CLI.
    expect(cmd).not.toContain('generate');
    const steps = ['node scripts/prisma.mjs migrate-deploy', 'node prisma/seed/seed.js'];
    const at = steps.map((s) => cmd.indexOf(s));
    expect(
      at.every((i) => i >= 0),
      cmd,
    ).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at); // in this order
    expect(cmd).not.toMatch(/;/); // && chains: a failed step fails the job
    expect(dependsOn(migrate).postgres).toBe('service_healthy');
    expect((migrate as { restart?: string }).restart).toBe('no');
  });

  it('gives every infrastructure service a health check', () => {
    for (const name of infraServices) {
      const svc = services[name]!;
      expect(svc.image, name).toBeTruthy();
      expect(healthTest(svc), `${name} healthcheck`).not.toBe('');
      expect(svc.healthcheck?.disable, name).not.toBe(true);
    }
    expect(healthTest(services.postgres!)).toContain('pg_isready');
    expect(healthTest(services.redis!)).toContain('redis-cli ping');
    expect(healthTest(services.rabbitmq!)).toContain('rabbitmq-diagnostics -q ping');
    expect(healthTest(services.elasticsearch!)).toContain('_cluster/health');
    expect(services.rabbitmq!.image).toBe('rabbitmq:3.13.7-management');
    expect(publishedFor(services.rabbitmq!, 15672)).toContain(15672);
    const es = envOf(services.elasticsearch!);
    expect(es['discovery.type']).toBe('single-node');
    expect(es['xpack.security.enabled']).toBe('false');
  });

  it('takes secrets from the environment, never literals', () => {
    const required = /^\$\{[A-Z][A-Z0-9_]*:\?[^}]*\}$/;
    const seen: string[] = [];
    for (const [name, svc] of Object.entries(services)) {
      const env = envOf(svc);
      for (const key of ['ADMIN_PASSWORD', 'PAYMENT_WEBHOOK_SECRET', 'IDENTITY_ASSERTION_SECRET']) {
        if (key in env) {
          seen.push(`${name}.${key}`);
          expect(env[key], `${name}.${key}`).toMatch(required);
          expect(env[key]!.startsWith(`\${${key}:?`), `${name}.${key} reads ${key}`).toBe(true);
        }
      }
    }
    expect(seen).toEqual(expect.arrayContaining(['auth.ADMIN_PASSWORD', 'payment.PAYMENT_WEBHOOK_SECRET']));
    // The gateway and every subgraph share the identity assertion secret.
    expect(seen).toEqual(
      expect.arrayContaining(
        ['gateway', 'auth', 'booking', 'search', 'payment'].map((n) => `${n}.IDENTITY_ASSERTION_SECRET`),
      ),
    );
    // Grafana's admin password: required from the environment, no default in the repository.
    expect(envOf(services.grafana!).GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]*\}$/);
    const auth = envOf(services.auth!);
    expect(auth.AUTH_GENERATE_KEYS).toBe('true');
    expect(auth.AUTH_SIGNING_KEYS_FILE).toMatch(/^\/app\/\.keys\//);
  });

  it('has no bare $ that compose would try to interpolate', () => {
    // `$` must start ${VAR...} or be escaped as $$.
    const bare = composeText
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('#') && /\$(?![{$])/.test(line.replace(/\$\$/g, '')));
    expect(bare).toEqual([]);
  });

  it('declares every named volume it mounts', () => {
    const declared = Object.keys(compose.volumes ?? {});
    expect(declared).toEqual(
      expect.arrayContaining([
        'postgres-data',
        'rabbitmq-data',
        'elasticsearch-data',
        'auth-keys',
        'prometheus-data',
        'grafana-data',
      ]),
    );
    for (const [name, svc] of Object.entries(services)) {
      for (const v of svc.volumes ?? []) {
        const source = typeof v === 'string' ? v.split(':')[0]! : (v.source ?? '');
        if (source && !source.startsWith('.') && !source.startsWith('/'))
          expect(declared, `${name} volume ${source}`).toContain(source);
      }
    }
  });
});

interface DashboardPanel {
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr?: string; datasource?: { uid?: string } }[];
}

describe('observability: Prometheus and Grafana', () => {
  const prometheus = services.prometheus!;
  const grafana = services.grafana!;
  type ScrapeJob = {
    job_name: string;
    metrics_path?: string;
    static_configs?: { targets: string[] }[];
    dns_sd_configs?: { names: string[]; type?: string; port: number }[];
  };
  const promConfig = parseYaml<{ scrape_configs: ScrapeJob[] }>(read('ops/prometheus/prometheus.yml'));
  // Static targets, and DNS discovery (every container of a service name) as name:port.
  // The app processes' jobs; the exporters' (postgres, redis, rabbitmq) are checked in test/compose-env.test.ts.
  const appJobs = promConfig.scrape_configs.filter((job) => !['postgres', 'redis', 'rabbitmq'].includes(job.job_name));
  const targets = appJobs.flatMap((job) => [
    ...(job.static_configs ?? []).flatMap((c) =>
      c.targets.map((t) => ({ job: job.job_name, target: t, path: job.metrics_path ?? '/metrics', dns: false })),
    ),
    ...(job.dns_sd_configs ?? []).flatMap((c) =>
      c.names.map((n) => ({
        job: job.job_name,
        target: `${n}:${c.port}`,
        path: job.metrics_path ?? '/metrics',
        dns: c.type === 'A',
      })),
    ),
  ]);
  const dashboard = JSON.parse(read('ops/grafana/dashboards/tatkal.json')) as { uid: string; panels: DashboardPanel[] };
  const queries = dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })),
  );

  /** Bind mounts `./host/path:/container/path[:ro]` of a service, as [host, container]. */
  const binds = (svc: Service) =>
    (svc.volumes ?? [])
      .filter((v): v is string => typeof v === 'string' && v.startsWith('./'))
      .map((v) => v.split(':').slice(0, 2) as [string, string]);

  it('runs pinned Prometheus and Grafana images, bound to this machine only, with health checks', () => {
    expect(prometheus.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(grafana.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    for (const [svc, port] of [
      [prometheus, 9090],
      [grafana, 3000],
    ] as const) {
      expect(svc.ports).toEqual([`127.0.0.1:${port}:${port}`]);
      expect(healthTest(svc)).toContain(`http://127.0.0.1:${port}/`);
    }
    expect(dependsOn(grafana).prometheus).toBe('service_healthy');
  });

  it('runs a pinned Jaeger, UI and OTLP/HTTP bound to this machine, and every app process exports traces to it', () => {
    const jaeger = services.jaeger!;
    expect(jaeger.image).toMatch(/^jaegertracing\/jaeger:\d+\.\d+\.\d+$/);
    expect(jaeger.ports).toEqual(['127.0.0.1:16686:16686', '127.0.0.1:4318:4318']);
    expect(healthTest(jaeger)).toContain('http://127.0.0.1:13133/');
    // The default of `${OTEL_EXPORTER_OTLP_ENDPOINT-...}`: set empty, it turns tracing off.
    for (const name of appServices)
      expect(envOf(services[name]!).OTEL_EXPORTER_OTLP_ENDPOINT, name).toContain('http://jaeger:4318');
  });

  it('gives Prometheus the config file in ops/prometheus', () => {
    const configFlag = [prometheus.command].flat().find((a) => String(a).startsWith('--config.file='));
    const configPath = String(configFlag).slice('--config.file='.length);
    expect(binds(prometheus)).toContainEqual(['./ops/prometheus/prometheus.yml', configPath]);
  });

  it('scrapes /metrics of every app service (and the provider simulator) on the port that service listens on', () => {
    const portOf = (name: string) => {
      const env = envOf(services[name]!);
      return env.METRICS_PORT ?? env.PORT ?? env.PROVIDER_PORT;
    };
    for (const name of [...appServices, 'payment-provider']) {
      expect(
        targets.map((t) => t.target),
        name,
      ).toContain(`${name}:${portOf(name)}`);
    }
    for (const { target, path } of targets) {
      const [host, port] = target.split(':');
      expect(services[host!], `${target} is a compose service`).toBeDefined();
      const env = envOf(services[host!]!);
      // A port the service listens on (the payment sidecar's WEBHOOK_PORT is the same process: not scraped twice).
      expect([env.METRICS_PORT ?? env.PORT, env.PROVIDER_PORT], target).toContain(port);
      expect(path, target).toBe('/metrics');
    }
    expect(new Set(targets.map((t) => t.target)).size).toBe(targets.length);
    // The gateway's metrics port is internal: scraped inside the stack, never published.
    const gatewayEnv = envOf(services.gateway!);
    expect(gatewayEnv.METRICS_PORT).toBeDefined();
    expect((services.gateway!.ports ?? []).map(String).some((p) => p.endsWith(`:${gatewayEnv.METRICS_PORT}`))).toBe(
      false,
    );
  });

  it('provisions Grafana: Prometheus source at the prometheus service, ops/grafana dashboard, anonymous view', () => {
    const env = envOf(grafana);
    expect(env.GF_AUTH_ANONYMOUS_ENABLED).toBe('true');
    expect(env.GF_AUTH_ANONYMOUS_ORG_ROLE).toBe('Viewer');
    expect(env.GF_USERS_ALLOW_SIGN_UP).toBe('false');
    const mounts = new Map(binds(grafana));
    expect(mounts.get('./ops/grafana/provisioning')).toBe('/etc/grafana/provisioning');
    const dashboardsDir = mounts.get('./ops/grafana/dashboards')!;
    expect(dashboardsDir).toBeTruthy();
    expect(env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(`${dashboardsDir}/tatkal.json`);

    const datasources = parseYaml<{ datasources: { type: string; uid: string; url: string }[] }>(
      read('ops/grafana/provisioning/datasources/prometheus.yml'),
    ).datasources;
    expect(datasources).toHaveLength(1);
    const [ds] = datasources;
    const promPort = String(prometheus.ports?.[0]).split(':').at(-1);
    expect(ds).toMatchObject({ type: 'prometheus', url: `http://prometheus:${promPort}` });
    const providers = parseYaml<{ providers: { type: string; options: { path: string } }[] }>(
      read('ops/grafana/provisioning/dashboards/tatkal.yml'),
    ).providers;
    expect(providers.map((p) => [p.type, p.options.path])).toEqual([['file', dashboardsDir]]);

    // Every query panel reads that data source.
    const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(queryPanels.length).toBeGreaterThan(10);
    for (const p of queryPanels) {
      expect(p.datasource?.uid, p.title).toBe(ds!.uid);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid ?? ds!.uid, p.title).toBe(ds!.uid);
    }
  });

  it("charts only metrics some process exports (names read from the processes' registry, not listed)", async () => {
    const exported = await metricNamesExported();
    // The registry really was read: default Node metrics and ours.
    expect(exported).toContain('process_cpu_seconds_total');
    expect(exported).toContain('tatkal_reservation_outcomes_total');
    const used = new Set<string>();
    for (const { panel, expr } of queries) {
      const names = metricNamesIn(expr);
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) {
        expect(exported.has(name), `${panel}: ${name} is not exported by any process`).toBe(true);
        used.add(name);
      }
    }
    // Runtime panels read the default Node metrics, the rest ours.
    expect([...used].filter((n) => !n.startsWith('tatkal_')).every((n) => /^(process|nodejs)_/.test(n))).toBe(true);
    // Loading every service module takes a few seconds on a busy machine.
  }, 120_000);
});

describe('scaling: docker compose up --scale booking=3 --scale gateway=2', () => {
  const lb = services['gateway-lb']!;
  const nginx = read('ops/nginx/gateway-lb.conf');
  // Directives outside comments, one per statement.
  const statements = nginx
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean)
    .join(' ');

  it('gives the scaled services nothing that exists once per host: no host port, container name or host name', () => {
    for (const name of scaledServices) {
      const svc = services[name]! as Service & { container_name?: string; hostname?: string };
      expect(svc, name).toBeDefined();
      expect(svc.ports, `${name} ports`).toBeUndefined();
      expect(svc.container_name, `${name} container_name`).toBeUndefined();
      expect(svc.hostname, `${name} hostname`).toBeUndefined();
      // Every process of it listens on the container's address.
      expect(envOf(svc).HOST, name).toBe('0.0.0.0');
    }
    // No host port is published by two services.
    const published = Object.values(services).flatMap((svc) =>
      (svc.ports ?? []).map((p) =>
        String(p)
          .replace(/\/(tcp|udp)$/, '')
          .split(':')
          .slice(0, -1)
          .join(':'),
      ),
    );
    expect(new Set(published).size).toBe(published.length);
  });

  it('puts a load balancer in front of the gateway that follows every gateway container', () => {
    expect(lb.image).toMatch(/^nginx:1\.(2[89]|[3-9]\d)\.\d+(-alpine)?$/); // `server ... resolve` needs 1.27.3+
    expect(publishedFor(lb, 4000)).toEqual([4000]);
    expect(dependsOn(lb).gateway).toBe('service_healthy');
    expect(lb.volumes).toContain('./ops/nginx/gateway-lb.conf:/etc/nginx/nginx.conf:ro');
    const gatewayPort = envOf(services.gateway!).PORT;
    // Docker's DNS, re-read while running, for the gateway service on its port.
    expect(statements).toMatch(/\bresolver 127\.0\.0\.11\b[^;]*valid=\d+s/);
    const upstream = /upstream (\w+) \{([^}]*)\}/.exec(statements);
    expect(upstream).not.toBeNull();
    expect(upstream![2]).toMatch(/\bzone \w+ \d+k;/);
    expect(upstream![2]).toContain(`server gateway:${gatewayPort} resolve;`);
    // Only /graphql goes through, to that upstream; X-Forwarded-For is set, not appended to.
    const graphql = /location = \/graphql \{([^}]*)\}/.exec(statements)?.[1] ?? '';
    expect(graphql).toContain(`proxy_pass http://${upstream![1]};`);
    expect(graphql).toContain('proxy_set_header X-Forwarded-For $remote_addr;');
    expect(statements).toMatch(/location \/ \{ return 404; \}/);
    // The listen port is the published one, and the health check asks a location the file has.
    expect(statements).toContain('listen 4000;');
    expect(healthTest(lb)).toContain('http://127.0.0.1:4000/lb-health');
    expect(statements).toMatch(/location = \/lb-health \{ return 200/);
    // The gateway believes exactly that one hop's X-Forwarded-For.
    expect(envOf(services.gateway!).TRUST_PROXY).toBe('1');
  });

  it('scrapes every container of a scaled service (DNS discovery), not one of them', () => {
    const promConfig = parseYaml<{
      scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; type: string; port: number }[] }[];
    }>(read('ops/prometheus/prometheus.yml'));
    for (const name of scaledServices) {
      const job = promConfig.scrape_configs.find((j) => j.dns_sd_configs?.some((c) => c.names.includes(name)));
      expect(job, `${name} discovered by DNS`).toBeDefined();
      expect(job!.dns_sd_configs!.find((c) => c.names.includes(name))!.type).toBe('A');
    }
  });
});

describe('Dockerfile', () => {
  const stages = [...dockerfile.matchAll(/^FROM\s+\S+(?:\s+AS\s+(\S+))?/gim)].map((m) => m[1]);

  it('is multi-stage, non-root, and the compose app services build its runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages).toEqual(expect.arrayContaining(['deps', 'build', 'runtime']));
    // The base image by digest (the tag only documents which one).
    // A pinned version (ARG NODE_VERSION, checked against CI's lines in node-versions.test.ts) and a digest.
    expect(dockerfile).toMatch(/^ARG NODE_VERSION=\d+\.\d+\.\d+$/m);
    expect(dockerfile).toMatch(/^FROM node:\$\{NODE_VERSION\}-bookworm-slim@sha256:[0-9a-f]{64} AS base$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile/);
    for (const name of [...appServices, 'migrate']) {
      const build = services[name]!.build;
      const spec = typeof build === 'string' ? { context: build } : (build ?? {});
      expect(spec.context, name).toBe('.');
      expect(spec.dockerfile ?? 'Dockerfile', name).toBe('Dockerfile');
      expect(stages, `${name} target`).toContain(spec.target);
    }
  });

  it('runs every process with the V8 flags npm start and the benchmarks use', () => {
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtime).toContain(`ENV NODE_OPTIONS="${SERVICE_NODE_OPTIONS}"`);
  });

  it('copies the manifest of every workspace package before installing', () => {
    const workspace = parseYaml<{ packages: string[] }>(read('pnpm-workspace.yaml'));
    const dirs = workspace.packages.flatMap((pattern) => {
      if (!pattern.endsWith('/*')) return [pattern];
      const parent = pattern.slice(0, -2);
      return readdirSync(new URL(`${parent}/`, root), { withFileTypes: true })
        .filter((d) => d.isDirectory() && existsSync(new URL(`${parent}/${d.name}/package.json`, root)))
        .map((d) => `${parent}/${d.name}`);
    });
    expect(dirs.length).toBeGreaterThan(0);
    const install = dockerfile.indexOf('pnpm install');
    for (const dir of dirs) {
      const copy = dockerfile.search(new RegExp(`^COPY\\s+${dir.replace(/[/.]/g, '\\$&')}/package\\.json\\s`, 'm'));
      expect(copy, `COPY ${dir}/package.json`).toBeGreaterThan(-1);
      expect(copy, `${dir}/package.json copied before pnpm install`).toBeLessThan(install);
    }
    // and the lockfile knows exactly these packages (plus the root): `--frozen-lockfile` needs both.
    const lock = parseYaml<{ importers: Record<string, unknown> }>(read('pnpm-lock.yaml'));
    expect(Object.keys(lock.importers).sort()).toEqual(['.', ...dirs].sort());
    for (const file of ['pnpm-lock.yaml', 'pnpm-workspace.yaml']) expect(dockerfile).toContain(file);
    // Every file the deps stage copies exists (a missing one fails `docker build`).
    const deps = dockerfile.slice(dockerfile.indexOf('AS deps'), dockerfile.indexOf('AS build'));
    for (const [, sources] of deps.matchAll(/^COPY\s+(?!--)(.+)\s+\S+$/gm)) {
      for (const file of sources!.trim().split(/\s+/))
        expect(existsSync(new URL(file, root)), `COPY ${file}`).toBe(true);
    }
  }, 30_000);

  it('keeps secrets, dependencies and generated code out of the build context', () => {
    const ignore = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of [
      '**/node_modules',
      '.git',
      '.keys',
      '**/.env',
      '**/.env.*',
      'bench/results',
      'coverage',
      'packages/db/src/generated',
    ]) {
      expect(ignore, entry).toContain(entry);
    }
  });
});
