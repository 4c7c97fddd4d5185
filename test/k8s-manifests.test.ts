// The Kubernetes manifests (deploy/k8s), checked without a cluster: each overlay is rendered by
// the real kustomize (`kubectl kustomize`, test/support/kustomize.ts), every object is validated
// against the Kubernetes OpenAPI schema (kubernetes-models), KEDA's CRD schema
// (@kubernetes-models/keda) or the Prometheus Operator's, and the objects are checked
// against each other and against the processes themselves: each Deployment's env is parsed by that
// process's own zod config (so a new required variable fails here until the manifests set it),
// ports and probes against what the config says it serves, Services against Deployments,
// NetworkPolicies against the URLs the processes call, KEDA triggers against the real queue names.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy, type INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import {
  ConfigMap,
  Namespace,
  Service,
  type IContainer,
  type IEnvVar,
  type IProbe,
  type IService,
} from 'kubernetes-models/v1';
import {
  ScaledObject,
  TriggerAuthentication,
  type IScaledObject,
  type ITriggerAuthentication,
} from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PodMonitor, PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { ConfigError, eventTopology } from '@tatkal/common';
import { loadGatewayConfig } from '../gateway/src/config.ts';
import { loadAuthConfig } from '../subgraphs/auth/src/config.ts';
import { loadBookingConfig } from '../subgraphs/booking/src/config.ts';
import { loadSearchConfig } from '../subgraphs/search/src/config.ts';
import { loadPaymentConfig, paymentServes, type PaymentRole } from '../subgraphs/payment/src/config.ts';
import { networkEventsQueue } from '../subgraphs/search/src/events/networkEvents.ts';
import { kustomize, podTemplateOf, type K8sObject } from './support/kustomize.ts';

const root = join(import.meta.dirname, '..');
const k8s = join(root, 'deploy/k8s');
const overlays = ['dev', 'prod'] as const;
const rendered = Object.fromEntries(overlays.map((o) => [o, kustomize(join(k8s, 'overlays', o))])) as Record<
  (typeof overlays)[number],
  K8sObject[]
>;

// ───────────────────────────── schema models ─────────────────────────────

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'v1/Service': Service,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

/** Every generated ConfigMap of both overlays by its (hashed) name: what `envFrom` reads. */
const configMaps = new Map(
  Object.values(rendered)
    .flat()
    .filter((o) => o.kind === 'ConfigMap')
    .map((o) => [o.metadata.name, (o as { data?: Record<string, string> }).data ?? {}]),
);

// ───────────────────────────── the processes ─────────────────────────────

type Loader = (env: NodeJS.ProcessEnv) => Record<string, unknown>;
interface Process {
  /** The config module's loader: the process's own list of variables and their rules. */
  load: Loader;
  /** Port variables of the config and which of them serve /health and /ready. */
  probePortVar: string;
  /** container port name -> the config variable that port must equal */
  ports: Record<string, string>;
  /** Env URLs a role reads in its config but never calls (no network rule needed for them). */
  unusedUrls?: string[];
}

/** Which process a container runs: its entry file, and for payment its role. */
function processOf(container: IContainer): Process | null {
  // The image runs the compiled file beside each source (scripts/build.mjs): x.js for x.ts.
  const entry = (container.command ?? []).find((a) => a.endsWith('.js'))?.replace(/\.js$/, '.ts');
  const env = envOf(container);
  switch (entry) {
    case 'gateway/src/index.ts':
      return { load: loadGatewayConfig, probePortVar: 'PORT', ports: { http: 'PORT', metrics: 'METRICS_PORT' } };
    case 'subgraphs/auth/src/index.ts':
      return { load: loadAuthConfig, probePortVar: 'PORT', ports: { http: 'PORT' } };
    case 'subgraphs/booking/src/index.ts':
      return { load: loadBookingConfig, probePortVar: 'PORT', ports: { http: 'PORT' } };
    case 'subgraphs/search/src/index.ts':
      return { load: loadSearchConfig, probePortVar: 'PORT', ports: { http: 'PORT' } };
    case 'subgraphs/payment/src/index.ts': {
      const role = (env.PAYMENT_ROLE ?? 'all') as PaymentRole;
      const serves = paymentServes(role);
      if (serves.graphql && serves.webhooks) return null; // `all` is for one machine, not a Deployment
      return serves.graphql
        ? { load: loadPaymentConfig, probePortVar: 'PORT', ports: { http: 'PORT' } }
        : {
            load: loadPaymentConfig,
            probePortVar: 'WEBHOOK_PORT',
            ports: { webhooks: 'WEBHOOK_PORT' },
            unusedUrls: ['AUTH_JWKS_URL', 'BOOKING_URL', 'PROVIDER_URL'],
          };
    }
    default:
      return null;
  }
}

/**
 * Variables the manifests set that no config reads yet: HOST, the bind address issue 12 adds
 * (subgraphs bind to loopback by default; here every process must listen on the pod address).
 */
const FORWARD_VARIABLES = new Set(['HOST']);

/** Plausible values for each key of the Secret tatkal-secrets (which is never in the manifests). */
const SECRET_VALUES: Record<string, string> = {
  IDENTITY_ASSERTION_SECRET: 'i'.repeat(40),
  AUTH_DATABASE_URL: 'postgresql://auth:pw@pgbouncer:6432/tatkal',
  BOOKING_DATABASE_URL: 'postgresql://booking:pw@pgbouncer:6432/tatkal',
  SEARCH_DATABASE_URL: 'postgresql://search:pw@pgbouncer:6432/tatkal',
  PAYMENT_DATABASE_URL: 'postgresql://payment:pw@pgbouncer:6432/tatkal',
  MIGRATE_DATABASE_URL: 'postgresql://owner:pw@postgres-rw:5432/tatkal',
  REDIS_URL: 'rediss://:pw@redis:6379',
  AMQP_URL: 'amqps://tatkal:pw@rabbitmq:5671/tatkal',
  PAYMENT_WEBHOOK_SECRET: `whsec_${'w'.repeat(24)}`,
  PAYMENT_WEBHOOK_SECRETS: `whsec_${'v'.repeat(24)}`,
  ADMIN_EMAIL: 'admin@tatkal.example',
  ADMIN_PASSWORD: 'p'.repeat(24),
  ELASTICSEARCH_URL: 'https://search:pw@elasticsearch:9200',
};
const documentedSecretKeys = readFileSync(join(k8s, 'secrets.example.env'), 'utf8')
  .split('\n')
  .filter((l) => /^[A-Z][A-Z0-9_]*=/.test(l))
  .map((l) => l.slice(0, l.indexOf('=')));

/**
 * A container's env as the process would see it, secrets filled in; `withOptional` false leaves out
 * optional secret refs.
 */
function envOf(container: IContainer, withOptional = true): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const data = configMaps.get(source.configMapRef?.name ?? '');
    if (!data)
      throw new Error(`${container.name}: envFrom ${JSON.stringify(source)} is not a ConfigMap of the overlay`);
    Object.assign(env, data);
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) {
      if (e.valueFrom.secretKeyRef.optional && !withOptional) continue;
      env[e.name] = SECRET_VALUES[e.valueFrom.secretKeyRef.key]!;
    }
  }
  return env;
}

/** The variables a config loader reads: every key its zod schema asks the environment for. */
function variablesRead(load: Loader, env: Record<string, string>): Set<string> {
  const read = new Set<string>();
  const proxy = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return target[key as string];
    },
  });
  load(proxy);
  return read;
}

/** The variables without which the config refuses to load (derived, not listed). */
function requiredVariables(load: Loader, env: Record<string, string>): string[] {
  return [...variablesRead(load, env)].filter((name) => {
    if (!(name in env)) return false;
    const { [name]: _removed, ...rest } = env;
    try {
      load(rest);
      return false;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return err.message.includes(`${name}:`);
    }
  });
}

// ───────────────────────────── helpers ─────────────────────────────

const ofKind = <T>(objects: K8sObject[], kind: string) =>
  objects.filter((o) => o.kind === kind) as unknown as (T & K8sObject)[];
const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
const podLabels = (d: IDeployment) => d.spec!.template.metadata?.labels;
const mainContainer = (d: IDeployment & K8sObject) =>
  d.spec!.template.spec!.containers.find((c) => c.name === d.metadata.name)!;
const portNumber = (c: IContainer, port: number | string) =>
  typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort;

/** In-cluster URLs of an env (http://<service>[:port]/...), as [variable, service, port]. */
function clusterUrls(env: Record<string, string>, services: (IService & K8sObject)[]): [string, string, number][] {
  const out: [string, string, number][] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!/^https?:\/\//.test(value)) continue;
    const url = new URL(value);
    if (!services.some((s) => s.metadata.name === url.hostname)) continue;
    out.push([name, url.hostname, Number(url.port || (url.protocol === 'https:' ? 443 : 80))]);
  }
  return out;
}

/** The Deployment a Service sends to, and the container port number a Service port reaches. */
function backendOf(svc: IService & K8sObject, deployments: (IDeployment & K8sObject)[], port: number) {
  const deployment = deployments.find((d) => matches(svc.spec!.selector, podLabels(d)));
  const sp = svc.spec!.ports!.find((p) => p.port === port);
  if (!deployment || !sp) return null;
  return { deployment, containerPort: portNumber(mainContainer(deployment), sp.targetPort ?? sp.port) };
}

/** Whether a NetworkPolicy set admits pods of `from` to `to` on a container port. */
function admits(policies: (INetworkPolicy & K8sObject)[], to: IDeployment, from: IDeployment, port: number): boolean {
  return policies
    .filter(
      (p) =>
        Object.keys(p.spec!.podSelector.matchLabels ?? {}).length === 0 ||
        matches(p.spec!.podSelector.matchLabels, podLabels(to)),
    )
    .some((p) =>
      (p.spec!.ingress ?? []).some(
        (rule) =>
          (!rule.ports || rule.ports.some((rp) => rp.port === port)) &&
          (!rule.from ||
            rule.from.some(
              (peer) =>
                !peer.namespaceSelector && !peer.ipBlock && matches(peer.podSelector?.matchLabels, podLabels(from)),
            )),
      ),
    );
}

// ───────────────────────────── the tests ─────────────────────────────

describe('deploy/k8s, rendered by kubectl kustomize', () => {
  it('renders both overlays over the same base: the same objects, each overlay in its own namespace', () => {
    // A generated ConfigMap's name ends in a hash of its content (dev's payment settings differ).
    const name = (o: K8sObject) =>
      o.kind === 'ConfigMap' ? o.metadata.name.replace(/-[a-z0-9]{10}$/, '') : o.metadata.name;
    const namespaced = (objs: K8sObject[]) => objs.filter((o) => o.kind !== 'Namespace');
    const ids = (objs: K8sObject[]) => namespaced(objs).map((o) => `${o.kind}/${name(o)}`);
    expect(rendered.dev.length).toBeGreaterThan(25);
    expect(ids(rendered.dev)).toEqual(expect.arrayContaining(ids(rendered.prod)));
    for (const [overlay, namespace] of [
      ['dev', 'tatkal-dev'],
      ['prod', 'tatkal'],
    ] as const) {
      const objs = rendered[overlay];
      expect(new Set(namespaced(objs).map((o) => o.metadata.namespace))).toEqual(new Set([namespace]));
      // The Namespace object itself, renamed by the overlay: `kubectl apply -k` creates it first.
      expect(objs.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name)).toEqual([namespace]);
      expect(new Set(ids(objs)).size, 'kind/name unique').toBe(namespaced(objs).length);
    }
    for (const o of rendered.prod)
      expect(o.metadata.labels?.['app.kubernetes.io/part-of'], `${o.kind}/${o.metadata.name}`).toBe('tatkal');
  });
});

describe.each(overlays)('deploy/k8s overlay %s', (overlay) => {
  const objects = rendered[overlay];
  const deployments = ofKind<IDeployment>(objects, 'Deployment');
  const services = ofKind<IService>(objects, 'Service');
  const hpas = ofKind<IHorizontalPodAutoscaler>(objects, 'HorizontalPodAutoscaler');
  const scaled = ofKind<IScaledObject>(objects, 'ScaledObject');
  const pdbs = ofKind<IPodDisruptionBudget>(objects, 'PodDisruptionBudget');
  const policies = ofKind<INetworkPolicy>(objects, 'NetworkPolicy');
  const jobs = objects.filter((o) => o.kind === 'Job');
  const deployment = (name: string) => deployments.find((d) => d.metadata.name === name)!;
  const processDeployments = deployments.filter((d) => processOf(mainContainer(d)));

  it("validates every object against the Kubernetes OpenAPI schema (KEDA objects against KEDA's)", () => {
    for (const o of objects) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect(Model, `${o.apiVersion} ${o.kind} has a schema model`).toBeDefined();
      expect(() => new Model!(o as never).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
    }
    // The validation is real: a wrong type in a rendered Deployment fails.
    const broken = structuredClone(deployment('booking')) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = 'three';
    expect(() => new Deployment(broken as never).validate()).toThrow(/replicas/);
  });

  it('has a Deployment and a Service for every process: gateway, four subgraphs, the webhook sidecar', () => {
    const expected = ['gateway', 'auth', 'booking', 'search', 'payment', 'payment-webhooks'];
    expect(processDeployments.map((d) => d.metadata.name)).toEqual(expect.arrayContaining(expected));
    for (const name of expected)
      expect(
        services.map((s) => s.metadata.name),
        name,
      ).toContain(name);
    expect(envOf(mainContainer(deployment('payment'))).PAYMENT_ROLE).toBe('graphql');
    expect(envOf(mainContainer(deployment('payment-webhooks'))).PAYMENT_ROLE).toBe('webhooks');
    // Every command runs a file of the image with node: a compiled x.js of this repository's x.ts
    // (scripts/build.mjs), or a plain .mjs script; never tsx.
    for (const d of [...deployments, ...jobs]) {
      for (const c of podTemplateOf(d)!.spec.containers as IContainer[]) {
        const command = (c.command ?? []).join(' ');
        expect(command, d.metadata.name).not.toMatch(/tsx|\.ts\b/);
        for (const arg of command.match(/[\w./-]+\.(?:js|mjs)\b/g) ?? []) {
          const source = arg.endsWith('.js') ? arg.replace(/\.js$/, '.ts') : arg;
          expect(existsSync(join(root, source)), `${d.metadata.name}: ${arg}`).toBe(true);
        }
      }
    }
  });

  it('every Service selects exactly one Deployment, on a port its container declares', () => {
    for (const svc of services) {
      const selected = deployments.filter((d) => matches(svc.spec!.selector, podLabels(d)));
      expect(
        selected.map((d) => d.metadata.name),
        `Service ${svc.metadata.name}`,
      ).toHaveLength(1);
      for (const p of svc.spec!.ports!) {
        expect(
          portNumber(mainContainer(selected[0]!), p.targetPort ?? p.port),
          `Service ${svc.metadata.name} port ${p.name}`,
        ).toBeDefined();
      }
    }
    // and the selector is the Deployment's own selector (what its ReplicaSets own).
    for (const d of deployments)
      expect(matches(d.spec!.selector.matchLabels, podLabels(d)), d.metadata.name).toBe(true);
  });

  it("parses each process's env with its own config: every variable it requires is set, every one set is read", () => {
    expect(documentedSecretKeys.sort()).toEqual(Object.keys(SECRET_VALUES).sort());
    for (const d of processDeployments) {
      const container = mainContainer(d);
      const proc = processOf(container)!;
      for (const withOptional of [true, false]) {
        const env = envOf(container, withOptional);
        expect(
          () => proc.load(env),
          `${d.metadata.name} (optional secrets ${withOptional ? 'set' : 'absent'})`,
        ).not.toThrow();
      }
      const env = envOf(container);
      const read = variablesRead(proc.load, env);
      for (const name of Object.keys(env)) {
        expect(
          read.has(name) || FORWARD_VARIABLES.has(name),
          `${d.metadata.name} sets ${name}, which its config does not read`,
        ).toBe(true);
      }
      // The required ones, derived from the schema (nothing listed here): all are set above.
      const required = requiredVariables(proc.load, env);
      expect(required, d.metadata.name).toContain(d.metadata.name === 'gateway' ? 'AUTH_JWKS_URL' : 'DATABASE_URL');
      // Production posture, which the schemas leave optional.
      expect(env.NODE_ENV, d.metadata.name).toBe('production');
      expect(
        env.IDENTITY_ASSERTION_SECRET,
        `${d.metadata.name}: the gateway and every subgraph share the identity secret`,
      ).toBeDefined();
      expect(env.HOST, `${d.metadata.name} listens on the pod address`).toBe('0.0.0.0');
    }
    expect(envOf(mainContainer(deployment('auth'))).AUTH_GENERATE_KEYS).toBe('false');
  }, 30_000);

  it("declares the ports the processes' configs listen on; probes /ready and /health on the port serving them", () => {
    for (const d of processDeployments) {
      const container = mainContainer(d);
      const proc = processOf(container)!;
      const config = proc.load(envOf(container));
      for (const [portName, variable] of Object.entries(proc.ports)) {
        expect(
          container.ports?.find((p) => p.name === portName)?.containerPort,
          `${d.metadata.name} port ${portName} = ${variable}`,
        ).toBe(config[variable]);
      }
      expect(container.ports?.map((p) => p.name).sort(), d.metadata.name).toEqual(Object.keys(proc.ports).sort());
      const probeOn = (probe: IProbe | undefined, path: string) => {
        expect(probe?.httpGet?.path, `${d.metadata.name} ${path}`).toBe(path);
        expect(portNumber(container, probe!.httpGet!.port), `${d.metadata.name} ${path} port`).toBe(
          config[proc.probePortVar],
        );
      };
      probeOn(container.readinessProbe, '/ready');
      probeOn(container.livenessProbe, '/health');
      probeOn(container.startupProbe, '/health');
      // /ready gives each check 1.5 s and never holds the probe longer than 2 s (packages/common/src/http.ts).
      expect(container.readinessProbe!.timeoutSeconds, d.metadata.name).toBeGreaterThanOrEqual(3);
    }
  });

  it('gives every container CPU and memory requests and a memory limit equal to its request', () => {
    for (const o of [...deployments, ...jobs]) {
      const spec = podTemplateOf(o)!.spec as { containers: IContainer[]; initContainers?: IContainer[] };
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        const r = c.resources;
        expect(r?.requests?.cpu, `${o.metadata.name}/${c.name} cpu request`).toBeDefined();
        expect(r?.requests?.memory, `${o.metadata.name}/${c.name} memory request`).toBeDefined();
        expect(r?.limits?.memory, `${o.metadata.name}/${c.name} memory limit`).toBe(r?.requests?.memory);
        expect(c.securityContext?.readOnlyRootFilesystem, `${o.metadata.name}/${c.name}`).toBe(true);
        expect(c.securityContext?.allowPrivilegeEscalation, `${o.metadata.name}/${c.name}`).toBe(false);
      }
    }
  });

  it('scales with KEDA alone: one ScaledObject per scaled Deployment, which sets no replicas of its own', () => {
    expect(hpas, 'KEDA creates the HPAs; none in the manifests').toEqual([]);
    const targets = scaled.map((s) => s.spec.scaleTargetRef.name);
    expect(new Set(targets).size, 'no Deployment under two autoscalers').toBe(targets.length);
    expect(targets.sort()).toEqual(['auth', 'booking', 'gateway', 'payment', 'search']);
    for (const s of scaled) {
      const d = deployment(s.spec.scaleTargetRef.name);
      expect(d, `ScaledObject ${s.metadata.name}`).toBeDefined();
      expect(s.spec.minReplicaCount!).toBeGreaterThanOrEqual(1);
      expect(s.spec.minReplicaCount!).toBeLessThanOrEqual(s.spec.maxReplicaCount!);
      // `kubectl apply` of a Deployment with replicas resets what the autoscaler set.
      expect(d.spec!.replicas, `${d.metadata.name} has spec.replicas under an autoscaler`).toBeUndefined();
    }
    // The only Deployment nobody scales keeps its count.
    for (const d of deployments.filter((x) => !targets.includes(x.metadata.name)))
      expect(d.spec!.replicas, d.metadata.name).toBeGreaterThanOrEqual(1);
  });

  it('points every queue-depth trigger at the queue its target really consumes (production names)', () => {
    const topology = eventTopology('');
    const consumes: Record<string, string> = {
      booking: topology.queues.bookingPaymentEvents.queue,
      payment: topology.queues.paymentBookingEvents.queue,
      search: networkEventsQueue('').queue,
    };
    const auths = ofKind<ITriggerAuthentication>(objects, 'TriggerAuthentication');
    const rabbit = scaled.flatMap((s) =>
      s.spec.triggers.filter((t) => t.type === 'rabbitmq').map((t) => [s, t] as const),
    );
    expect(rabbit.map(([s]) => s.spec.scaleTargetRef.name).sort()).toEqual(['booking', 'payment', 'search']);
    for (const [s, t] of rabbit) {
      expect(t.metadata.queueName, s.metadata.name).toBe(consumes[s.spec.scaleTargetRef.name]);
      expect(t.metadata.mode).toBe('QueueLength');
      const auth = auths.find((a) => a.metadata.name === t.authenticationRef?.name);
      expect(auth?.spec.secretTargetRef, s.metadata.name).toEqual([
        { parameter: 'host', name: 'tatkal-secrets', key: 'AMQP_URL' },
      ]);
    }
  }, 60_000);

  it('gives every Deployment a disruption budget that lets a node drain', () => {
    for (const d of deployments) {
      const own = pdbs.filter((p) => matches(p.spec!.selector!.matchLabels, podLabels(d)));
      expect(
        own.map((p) => p.metadata.name),
        d.metadata.name,
      ).toHaveLength(1);
      const { maxUnavailable, minAvailable } = own[0]!.spec!;
      expect(
        minAvailable,
        `${d.metadata.name}: maxUnavailable, not minAvailable (one replica must still drain)`,
      ).toBeUndefined();
      expect(maxUnavailable === 1 || /^\d+%$/.test(String(maxUnavailable)), d.metadata.name).toBe(true);
    }
  });

  it('takes every secret from the Secrets tatkal-secrets and tatkal-auth-keys, which are not in the manifests', () => {
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    // Settings are in ConfigMaps, secrets never: no secret's name as a key, no credentials in a URL.
    for (const [name, data] of configMaps) {
      for (const [key, value] of Object.entries(data)) {
        expect(key, `ConfigMap ${name}`).not.toMatch(
          /SECRET|PASSWORD|DATABASE_URL|REDIS_URL|AMQP_URL|ELASTICSEARCH_URL/,
        );
        expect(value, `ConfigMap ${name} ${key}: credentials in a URL`).not.toMatch(/:\/\/[^/\s]*@/);
      }
    }
    const mustBeSecret = new RegExp(
      '^(IDENTITY_ASSERTION_SECRET|PAYMENT_WEBHOOK_SECRETS?|ADMIN_PASSWORD|' +
        'DATABASE_URL|REDIS_URL|AMQP_URL|ELASTICSEARCH_URL)$',
    );

    for (const o of [...deployments, ...jobs]) {
      const spec = podTemplateOf(o)!.spec as {
        containers: IContainer[];
        initContainers?: IContainer[];
        volumes?: { secret?: { secretName: string } }[];
      };
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        for (const e of c.env ?? ([] as IEnvVar[])) {
          if (e.valueFrom?.secretKeyRef) {
            expect(e.valueFrom.secretKeyRef.name, `${o.metadata.name} ${e.name}`).toBe('tatkal-secrets');
            expect(documentedSecretKeys, `${o.metadata.name} ${e.name}: key listed in secrets.example.env`).toContain(
              e.valueFrom.secretKeyRef.key,
            );
          }
          if (mustBeSecret.test(e.name)) expect(e.value, `${o.metadata.name} ${e.name} is a literal`).toBeUndefined();
          if (e.value)
            expect(e.value, `${o.metadata.name} ${e.name}: credentials in a URL`).not.toMatch(/:\/\/[^/\s]*@/);
        }
      }
      const pod = podTemplateOf(o)!.spec as { securityContext?: { runAsGroup?: number; fsGroup?: number } };
      for (const v of (spec.volumes ?? []) as { secret?: { secretName: string; defaultMode?: number } }[]) {
        if (!v.secret) continue;
        expect(v.secret.secretName).toBe('tatkal-auth-keys');
        // Files not readable by others must belong to the app's group, or the app cannot read them.
        if (((v.secret.defaultMode ?? 0o644) & 0o004) === 0)
          expect(pod.securityContext?.fsGroup, `${o.metadata.name} fsGroup`).toBe(pod.securityContext?.runAsGroup);
      }
    }
    const readme = readFileSync(join(k8s, 'README.md'), 'utf8');
    for (const name of ['tatkal-secrets', 'tatkal-auth-keys', 'secrets.example.env'])
      expect(readme, name).toContain(name);
  });

  it('migrates in a Job before the rollout, and no pod that uses the database starts before it', () => {
    expect(jobs.map((j) => j.metadata.name)).toEqual(['tatkal-migrate']);
    const job = podTemplateOf(jobs[0]!)!.spec as { containers: IContainer[] };
    const cmd = (job.containers[0]!.command ?? []).join(' ');
    expect(cmd.indexOf('scripts/prisma.mjs migrate-deploy')).toBeGreaterThanOrEqual(0);
    expect(cmd.indexOf('node prisma/seed/seed.js')).toBeGreaterThan(cmd.indexOf('migrate-deploy'));
    expect(cmd).not.toMatch(/;/); // && chains: a failed step fails the Job
    expect(job.containers[0]!.env?.find((e) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef?.key).toBe(
      'MIGRATE_DATABASE_URL',
    );
    expect(jobs[0]!.metadata.annotations?.['argocd.argoproj.io/hook']).toBe('PreSync');
    for (const d of deployments) {
      const main = envOf(mainContainer(d));
      if (!main.DATABASE_URL) continue;
      const gate = d.spec!.template.spec!.initContainers?.find((c) => c.name === 'wait-for-migrations');
      expect(gate, `${d.metadata.name} waits for migrations`).toBeDefined();
      expect((gate!.command ?? []).join(' ')).toContain('scripts/prisma.mjs migrate-status');
      expect(gate!.image).toBe(mainContainer(d).image);
      // The same database as the process itself.
      expect(gate!.env?.find((e) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef?.key).toBe(
        mainContainer(d).env?.find((e) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef?.key,
      );
    }
  });

  it('runs one image everywhere (the web app its own static-site image); prod pins release tags', () => {
    // The web app (base/web.yaml) is nginx with the built app (apps/web/Dockerfile): no process of ours.
    const web = deployment('web');
    const webImage = (web.spec!.template.spec!.containers as IContainer[])[0]!.image!;
    const releaseTag = /^[\w.-]+(?::\d+)?\/[\w./-]+:(?!latest$|dev$)[\w.-]+$/;
    expect(webImage).toMatch(overlay === 'prod' ? releaseTag : /tatkal-web/);
    const images = new Set(
      [...deployments.filter((d) => d !== web), ...jobs].flatMap((o) => {
        const spec = podTemplateOf(o)!.spec as { containers: IContainer[]; initContainers?: IContainer[] };
        return [...spec.containers, ...(spec.initContainers ?? [])].map((c) => c.image);
      }),
    );
    expect(images.size).toBe(1);
    if (overlay === 'prod') expect([...images][0]).toMatch(/^[\w.-]+(?::\d+)?\/[\w./-]+:(?!latest$|dev$)[\w.-]+$/);
  });

  it("gateway-only access to subgraphs, plus exactly the processes' calls; the sidecar only from the provider", () => {
    expect(
      policies.some(
        (p) =>
          Object.keys(p.spec!.podSelector.matchLabels ?? {}).length === 0 &&
          p.spec!.policyTypes?.includes('Ingress') &&
          !p.spec!.ingress?.length,
      ),
    ).toBe(true);
    const gateway = deployment('gateway');
    const gatewayEnv = envOf(mainContainer(gateway));
    // Every URL a process calls inside the cluster is admitted by the target's policy.
    const calls = new Map<string, Set<string>>(); // target Deployment -> callers
    for (const d of deployments) {
      const proc = processOf(mainContainer(d));
      for (const [variable, host, port] of clusterUrls(envOf(mainContainer(d)), services)) {
        if (proc?.unusedUrls?.includes(variable)) continue;
        const backend = backendOf(services.find((s) => s.metadata.name === host)!, deployments, port);
        expect(backend, `${d.metadata.name} ${variable}: Service ${host} has port ${port}`).not.toBeNull();
        expect(
          admits(policies, backend!.deployment, d, backend!.containerPort!),
          `${d.metadata.name} -> ${host}:${port} (${variable})`,
        ).toBe(true);
        calls.set(
          backend!.deployment.metadata.name,
          new Set([...(calls.get(backend!.deployment.metadata.name) ?? []), d.metadata.name]),
        );
      }
    }
    // The gateway reaches each subgraph it routes to, by its routing URL override.
    for (const name of ['auth', 'booking', 'search', 'payment'])
      expect([...(calls.get(name) ?? [])], name).toContain('gateway');
    expect(gatewayEnv.PAYMENT_URL).toBe('http://payment:4004/graphql');
    // ...and no pod is admitted to a subgraph that does not call it.
    for (const name of ['auth', 'booking', 'search', 'payment']) {
      const d = deployment(name);
      const port = mainContainer(d).ports!.find((p) => p.name === 'http')!.containerPort;
      const admitted = deployments
        .filter((from) => from !== d && admits(policies, d, from, port))
        .map((from) => from.metadata.name);
      expect(admitted.sort(), `admitted to ${name}`).toEqual([...(calls.get(name) ?? [])].sort());
    }
    // The webhook sidecar: no pod of the cluster, only address blocks (the provider's), plus Prometheus.
    const webhooks = policies.find((p) => p.metadata.name === 'payment-webhooks')!;
    const peers = webhooks.spec!.ingress!.flatMap((r) => r.from ?? []);
    const fromPods = peers
      .filter((p) => p.podSelector && !p.namespaceSelector)
      .map((p) => p.podSelector!.matchLabels?.['app.kubernetes.io/name']);
    if (overlay === 'prod') {
      expect(fromPods).toEqual([]);
      const blocks = peers.filter((p) => p.ipBlock).map((p) => p.ipBlock!.cidr);
      expect(blocks.length).toBeGreaterThan(0);
      expect(blocks.every((c) => c !== '0.0.0.0/0')).toBe(true);
      const svc = services.find((s) => s.metadata.name === 'payment-webhooks')!;
      expect(svc.spec!.loadBalancerSourceRanges, 'the load balancer admits the same ranges').toEqual(blocks);
      expect(svc.spec!.externalTrafficPolicy, 'source addresses reach the pod').toBe('Local');
    } else expect(fromPods).toEqual(['payment-provider']);
    // Prometheus may scrape each process on the port its scrape annotation names.
    for (const d of processDeployments) {
      const port = Number(d.spec!.template.metadata!.annotations!['prometheus.io/port']);
      const scrape = policies.some(
        (p) =>
          matches(p.spec!.podSelector.matchLabels, podLabels(d)) &&
          p.spec!.ingress!.some(
            (r) =>
              r.ports?.some((rp) => rp.port === port) &&
              r.from?.some((f) => f.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'monitoring'),
          ),
      );
      expect(scrape, `${d.metadata.name} scraped on ${port}`).toBe(true);
      expect(
        mainContainer(d).ports!.map((p) => p.containerPort),
        d.metadata.name,
      ).toContain(port);
    }
  });
});
