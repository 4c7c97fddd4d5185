// The prod overlay's Deployments, run as real processes: each container's command and env exactly
// as rendered (`kubectl kustomize deploy/k8s/overlays/prod`), with only what a laptop must stand in for replaced:
// Secret values (test ones), in-cluster host names and ports (free loopback ports), file paths
// of the image (/app/...), the broker's names (a test prefix), and no bind address other than
// loopback. Then every probe of every container is sent to the port it names: readiness, liveness
// and start-up must answer 200, and so must the metrics port Prometheus is told to scrape. The
// migrations gate of the init containers must pass on a migrated database.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IContainer, IProbe } from 'kubernetes-models/v1';
import { deleteEventTopology } from '@tatkal/common';
import { freePort, startProcess, type RunningProcess } from '../packages/testkit/src/processes.ts';
import { generateSigningJwk } from '../subgraphs/auth/src/domain/keys.ts';
import { kustomize, type K8sObject } from './support/kustomize.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { AMQP_URL, REDIS_URL } from './support/env.ts';

const root = join(import.meta.dirname, '..');
const objects = kustomize(join(root, 'deploy/k8s/overlays/prod'));
type Deployment = K8sObject & {
  spec: {
    template: {
      metadata: { annotations?: Record<string, string> };
      spec: { containers: IContainer[]; initContainers?: IContainer[] };
    };
  };
};
// The Node processes (the web app's static site, base/web.yaml, is nginx: not started here).
const deployments = objects
  .filter((o): o is Deployment => o.kind === 'Deployment')
  .filter((d) => d.spec.template.spec.containers.some((c) => c.command?.[0] === 'node'));
const services = objects.filter((o) => o.kind === 'Service') as (K8sObject & {
  spec: { ports: { port: number; targetPort: string | number }[] };
})[];
/** The generated ConfigMaps by name: what a container's envFrom reads. */
const configMaps = new Map(
  objects
    .filter((o) => o.kind === 'ConfigMap')
    .map((o) => [o.metadata.name, (o as { data?: Record<string, string> }).data ?? {}]),
);
const mainOf = (d: Deployment) => d.spec.template.spec.containers.find((c) => c.name === d.metadata.name)!;
// Start order: what a process calls at start-up is up before it (the gateway last).
const ORDER = ['auth', 'booking', 'search', 'payment', 'payment-webhooks', 'gateway'];
const PORT_VARIABLES = ['PORT', 'WEBHOOK_PORT', 'METRICS_PORT'];

const prefix = `t${randomBytes(4).toString('hex')}_`;
let db: TestDatabase;
let keysDir: string;
const running = new Map<string, { process: RunningProcess; ports: Map<number, number> }>();
/** In-cluster host:port -> local URL base, filled as processes start. */
const localAddress = new Map<string, string>();

/** The container's env with the test's stand-ins. */
function localEnv(d: Deployment, secrets: Record<string, string>, ports: Map<number, number>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of mainOf(d).envFrom ?? []) Object.assign(env, configMaps.get(from.configMapRef!.name!));
  for (const e of mainOf(d).env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef && secrets[e.valueFrom.secretKeyRef.key] !== undefined)
      env[e.name] = secrets[e.valueFrom.secretKeyRef.key]!;
  }
  for (const name of PORT_VARIABLES) if (env[name]) env[name] = String(ports.get(Number(env[name])) ?? env[name]);
  for (const [name, value] of Object.entries(env)) {
    if (value.startsWith('/app/')) env[name] = join(root, value.slice('/app/'.length));
    if (!/^https?:\/\//.test(value)) continue;
    const url = new URL(value);
    const local = localAddress.get(`${url.hostname}:${url.port || 80}`);
    if (local) env[name] = `${local}${url.pathname}`;
    // Outside the cluster and never called at start: point it at a closed port.
    else if (!services.some((s) => s.metadata.name === url.hostname)) env[name] = `http://127.0.0.1:1${url.pathname}`;
  }
  env.AUTH_SIGNING_KEYS_FILE &&= join(keysDir, 'signing-keys.json');
  // The seeded template has 60 days of runs: booking's preparer would create their seat
  // inventory (millions of rows) in the background of this test.
  const inventory: Record<string, string> = d.metadata.name === 'booking' ? { INVENTORY_HORIZON_DAYS: '0' } : {};
  return { ...env, HOST: '127.0.0.1', EVENTS_PREFIX: prefix, ...inventory };
}

const probePort = (c: IContainer, probe: IProbe, ports: Map<number, number>) => {
  const named = probe.httpGet!.port;
  const containerPort = typeof named === 'number' ? named : c.ports!.find((p) => p.name === named)!.containerPort;
  return ports.get(containerPort)!;
};

beforeAll(async () => {
  db = await createTestDatabase('k8s_processes');
  keysDir = mkdtempSync(join(tmpdir(), 'tatkal-k8s-keys-'));
  writeFileSync(join(keysDir, 'signing-keys.json'), JSON.stringify({ keys: [await generateSigningJwk()] }));
  const secrets: Record<string, string> = {
    IDENTITY_ASSERTION_SECRET: randomBytes(24).toString('hex'),
    AUTH_DATABASE_URL: db.url,
    BOOKING_DATABASE_URL: db.url,
    SEARCH_DATABASE_URL: db.url,
    PAYMENT_DATABASE_URL: db.url,
    MIGRATE_DATABASE_URL: db.url,
    REDIS_URL,
    AMQP_URL,
    PAYMENT_WEBHOOK_SECRET: `whsec_${randomBytes(12).toString('hex')}`,
  };
  expect(deployments.map((d) => d.metadata.name).sort()).toEqual([...ORDER].sort());
  for (const wave of [['auth', 'booking', 'search'], ['payment', 'payment-webhooks'], ['gateway']]) {
    await Promise.all(
      wave.map(async (name) => {
        const d = deployments.find((x) => x.metadata.name === name)!;
        const c = mainOf(d);
        const ports = new Map<number, number>();
        for (const p of c.ports ?? []) ports.set(p.containerPort, await freePort());
        const env = localEnv(d, secrets, ports);
        // The image runs the compiled x.js (scripts/build.mjs); here its source x.ts runs through tsx.
        const entry = c.command!.find((a) => a.endsWith('.js'))!.replace(/\.js$/, '.ts');
        const readiness = c.readinessProbe!;
        const port = probePort(c, readiness, ports);
        // startProcess sets the variable that carries the port it waits on; the rest are in env.
        const portEnv = PORT_VARIABLES.find((v) => env[v] === String(port))!;
        const process = await startProcess(name, entry, env, {
          port,
          portEnv,
          readyPath: readiness.httpGet!.path!,
          timeoutMs: 120_000,
        });
        running.set(name, { process, ports });
        for (const s of services.filter((s) => s.metadata.name === name)) {
          for (const sp of s.spec.ports) {
            const target =
              typeof sp.targetPort === 'number'
                ? sp.targetPort
                : c.ports!.find((p) => p.name === sp.targetPort)!.containerPort;
            localAddress.set(`${name}:${sp.port}`, `http://127.0.0.1:${ports.get(target)}`);
          }
        }
      }),
    );
  }
}, 400_000);

afterAll(async () => {
  await Promise.all([...running.values()].map((r) => r.process.stop()));
  const admin = await amqp.connect(AMQP_URL).catch(() => null);
  if (admin) {
    await deleteEventTopology(admin, prefix).catch(() => undefined);
    await admin.close();
  }
  if (keysDir) rmSync(keysDir, { recursive: true, force: true });
  await db?.drop();
});

describe('the prod overlay, run as processes', () => {
  it.each(ORDER)('%s answers its readiness, liveness and start-up probes and its scrape port', async (name) => {
    const d = deployments.find((x) => x.metadata.name === name)!;
    const c = mainOf(d);
    const { ports, process } = running.get(name)!;
    for (const probe of [c.readinessProbe!, c.livenessProbe!, c.startupProbe!]) {
      const res = await fetch(`http://127.0.0.1:${probePort(c, probe, ports)}${probe.httpGet!.path}`);
      expect(res.status, `${name} ${probe.httpGet!.path}`).toBe(200);
    }
    const annotations = d.spec.template.metadata.annotations ?? {};
    const metrics = await fetch(
      `http://127.0.0.1:${ports.get(Number(annotations['prometheus.io/port']))}${annotations['prometheus.io/path']}`,
    );
    expect(metrics.status, `${name} metrics`).toBe(200);
    expect(await metrics.text()).toContain('tatkal_http_requests_total');
    expect(process.child.exitCode).toBeNull();
  });

  it('passes the migrations gate of the init containers on a migrated database', () => {
    const gate = mainOfGate();
    const check = /until (.+?); do/.exec(gate.command!.join(' '))![1]!;
    const res = spawnSync('sh', ['-c', check], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: tmpdir(), DATABASE_URL: db.url },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(res.status, res.stdout + res.stderr).toBe(0);
  });
});

function mainOfGate(): IContainer {
  return deployments
    .find((d) => d.metadata.name === 'booking')!
    .spec.template.spec.initContainers!.find((c) => c.name === 'wait-for-migrations')!;
}
