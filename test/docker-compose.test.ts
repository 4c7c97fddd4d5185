// Static checks of the container stack (no Docker needed): docker-compose.yml against
// supergraph.yaml, the workspace and the Dockerfile, so a renamed subgraph, a moved port or a new
// workspace package breaks here instead of at `docker compose up`.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { parseDocument } from 'yaml';

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
    const parts = String(p).replace(/\/(tcp|udp)$/, '').split(':');
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
const appServices = Object.keys(services).filter((n) => buildsFromDockerfile(services[n]!) && !helperServices.includes(n));
const infraServices = Object.keys(services).filter((n) => !buildsFromDockerfile(services[n]!));
const subgraphs = Object.entries(supergraph.subgraphs).map(([name, cfg]) => {
  const url = new URL(cfg.routing_url);
  return { name, url, port: Number(url.port) };
});
const gatewayEnv = envOf(services.gateway ?? {});

describe('docker-compose.yml', () => {
  it('parses (strict YAML) and declares the expected services', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['postgres', 'redis', 'rabbitmq', 'elasticsearch', 'migrate', 'gateway', ...subgraphs.map((s) => s.name)]),
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
      expect(Object.keys(services[name]!).some((k) => k === '<<'), name).toBe(false);
    }
  });

  it('has a service for every subgraph in supergraph.yaml, on its routing_url port, published', () => {
    expect(subgraphs.length).toBeGreaterThan(0);
    for (const { name, url, port } of subgraphs) {
      expect(url.hostname, name).toBe('localhost');
      expect(url.pathname, name).toBe('/graphql');
      const svc = services[name];
      expect(svc, `compose service "${name}"`).toBeDefined();
      expect(Number(envOf(svc!).PORT), `${name} PORT`).toBe(port);
      expect(publishedFor(svc!, port), `${name} publishes ${port}`).toContain(port);
      expect([svc!.command].flat().join(' '), `${name} command`).toContain(`subgraphs/${name}/src/index.ts`);
    }
  });

  it('points the gateway at each subgraph by service name and port', () => {
    for (const { name, port } of subgraphs) {
      expect(gatewayEnv[`${name.toUpperCase()}_URL`], `${name.toUpperCase()}_URL`).toBe(`http://${name}:${port}/graphql`);
    }
    expect(gatewayEnv.SUPERGRAPH_PATH).toBe('/app/supergraph.graphql');
    expect(Number(gatewayEnv.PORT)).toBe(4000);
    expect(publishedFor(services.gateway!, 4000)).toContain(4000);
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
    expect([svc.command].flat().join(' ')).toContain('subgraphs/payment/src/provider/index.ts');
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
        if (condition === 'service_healthy') expect(services[dep]!.healthcheck, `${dep} needs a healthcheck`).toBeDefined();
      }
    }
    expect(dependsOn(services.search!).elasticsearch).toBe('service_healthy');
  });

  it('runs generate, migrate-deploy and seed once, after postgres is healthy', () => {
    const migrate = services.migrate!;
    const cmd = [migrate.command].flat().join(' ');
    const steps = ['scripts/prisma.mjs generate', 'scripts/prisma.mjs migrate-deploy', 'prisma/seed/seed.ts'];
    const at = steps.map((s) => cmd.indexOf(s));
    expect(at.every((i) => i >= 0), cmd).toBe(true);
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
    expect(services.rabbitmq!.image).toBe('rabbitmq:3.13-management');
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
      for (const key of ['ADMIN_PASSWORD', 'PAYMENT_WEBHOOK_SECRET']) {
        if (key in env) {
          seen.push(`${name}.${key}`);
          expect(env[key], `${name}.${key}`).toMatch(required);
          expect(env[key]!.startsWith(`\${${key}:?`), `${name}.${key} reads ${key}`).toBe(true);
        }
      }
    }
    expect(seen).toEqual(expect.arrayContaining(['auth.ADMIN_PASSWORD', 'payment.PAYMENT_WEBHOOK_SECRET']));
    const auth = envOf(services.auth!);
    expect(auth.AUTH_GENERATE_KEYS).toBe('true');
    expect(auth.AUTH_SIGNING_KEYS_FILE).toMatch(/^\/app\/\.keys\//);
  });

  it('has no bare $ that compose would try to interpolate', () => {
    // `$` must start ${VAR...} or be escaped as $$.
    const bare = composeText.split('\n').filter((line) => !line.trimStart().startsWith('#') && /\$(?![{$])/.test(line.replace(/\$\$/g, '')));
    expect(bare).toEqual([]);
  });

  it('declares every named volume it mounts', () => {
    const declared = Object.keys(compose.volumes ?? {});
    expect(declared).toEqual(expect.arrayContaining(['postgres-data', 'rabbitmq-data', 'elasticsearch-data', 'auth-keys']));
    for (const [name, svc] of Object.entries(services)) {
      for (const v of svc.volumes ?? []) {
        const source = typeof v === 'string' ? v.split(':')[0]! : (v.source ?? '');
        if (source && !source.startsWith('.') && !source.startsWith('/')) expect(declared, `${name} volume ${source}`).toContain(source);
      }
    }
  });
});

describe('Dockerfile', () => {
  const stages = [...dockerfile.matchAll(/^FROM\s+\S+(?:\s+AS\s+(\S+))?/gim)].map((m) => m[1]);

  it('is multi-stage, non-root, and the compose app services build its runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages).toEqual(expect.arrayContaining(['deps', 'build', 'runtime']));
    expect(dockerfile).toMatch(/^ARG NODE_VERSION=/m);
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
    for (const file of ['pnpm-lock.yaml', 'pnpm-workspace.yaml', '.npmrc']) expect(dockerfile).toContain(file);
  });

  it('keeps secrets, dependencies and generated code out of the build context', () => {
    const ignore = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const entry of ['**/node_modules', '.git', '.keys', '**/.env', '**/.env.*', 'bench/results', 'coverage', 'packages/db/src/generated']) {
      expect(ignore, entry).toContain(entry);
    }
  });
});
