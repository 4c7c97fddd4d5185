// What keeps a deployment running, in the rendered manifests (`kubectl kustomize`): autoscaling
// that raises the floors before each Tatkal opening (KEDA cron triggers, Asia/Kolkata), a
// PodMonitor for every process on the port that serves /metrics (and that the NetworkPolicies open
// to Prometheus), the alert rules as a PrometheusRule equal to ops/prometheus/rules/tatkal.yml,
// and one image name across the Dockerfile, the manifests and docker-compose.yml.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kustomize, podTemplateOf, type K8sObject } from './support/kustomize.ts';

const root = join(import.meta.dirname, '..');
const overlays = ['dev', 'prod'] as const;
const rendered = Object.fromEntries(
  overlays.map((o) => [o, kustomize(join(root, 'deploy/k8s/overlays', o))]),
) as Record<(typeof overlays)[number], K8sObject[]>;

interface Trigger {
  type: string;
  metadata: Record<string, string>;
}
interface ScaledObject extends K8sObject {
  spec: { scaleTargetRef: { name: string }; minReplicaCount: number; maxReplicaCount: number; triggers: Trigger[] };
}
interface Container {
  name: string;
  image: string;
  ports?: { name: string; containerPort: number }[];
}
type Deployment = K8sObject & { spec: { template: { metadata: { annotations?: Record<string, string> } } } };

const of = <T extends K8sObject>(objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind) as T[];
/** Minutes after midnight of a cron expression's fixed minute and hour (`m h * * *`). */
function dailyMinute(cron: string): number {
  const [minute, hour, ...rest] = cron.trim().split(/\s+/);
  expect(rest, cron).toEqual(['*', '*', '*']);
  return Number(hour) * 60 + Number(minute);
}

describe.each(overlays)('deploy/k8s overlay %s: operations', (overlay) => {
  const objects = rendered[overlay];
  const scaled = of<ScaledObject>(objects, 'ScaledObject');
  const deployments = of<Deployment>(objects, 'Deployment');

  it('raises the floors of gateway, booking, auth and payment before 10:00 and 11:00 IST, lowers them after', () => {
    for (const name of ['gateway', 'booking', 'auth', 'payment']) {
      const so = scaled.find((s) => s.spec.scaleTargetRef.name === name)!;
      const crons = so.spec.triggers.filter((t) => t.type === 'cron');
      for (const opening of [10 * 60, 11 * 60]) {
        const window = crons.find(
          (t) => dailyMinute(t.metadata.start!) < opening && dailyMinute(t.metadata.end!) > opening,
        );
        expect(window, `${name}: a cron window around ${opening / 60}:00`).toBeDefined();
        expect(window!.metadata.timezone).toBe('Asia/Kolkata');
        // Up at least 10 minutes before (pods start, the migrations gate, the first scrape) and
        // down within 45 minutes after (the rush is over; the HPA keeps what load still needs).
        expect(opening - dailyMinute(window!.metadata.start!), name).toBeGreaterThanOrEqual(10);
        expect(dailyMinute(window!.metadata.end!) - opening, name).toBeLessThanOrEqual(45);
        const floor = Number(window!.metadata.desiredReplicas);
        expect(floor, `${name}: the window's floor`).toBeGreaterThanOrEqual(so.spec.minReplicaCount);
        expect(floor, `${name}: within the ceiling`).toBeLessThanOrEqual(so.spec.maxReplicaCount);
        if (overlay === 'prod')
          expect(floor, `${name}: above the everyday floor`).toBeGreaterThan(so.spec.minReplicaCount);
      }
    }
    // The floors of docs/scaling.md ("Before the opening") in production.
    if (overlay === 'prod') {
      const floorOf = (name: string) =>
        Number(
          scaled.find((s) => s.metadata.name === name)!.spec.triggers.find((t) => t.type === 'cron')!.metadata
            .desiredReplicas,
        );
      expect(floorOf('gateway')).toBe(19);
      expect(floorOf('booking')).toBe(17);
    }
  });

  it('scrapes every process with a PodMonitor, on the port its NetworkPolicy opens to Prometheus', () => {
    const monitors = of<K8sObject & { spec: Record<string, unknown> }>(objects, 'PodMonitor');
    const processes = deployments.filter((d) => d.spec.template.metadata.annotations?.['prometheus.io/scrape']);
    expect(processes.length).toBeGreaterThanOrEqual(6);
    for (const d of processes) {
      const labels = (d.spec.template.metadata as { labels: Record<string, string> }).labels;
      const own = monitors.filter((m) => {
        const selector = (m.spec.selector as { matchLabels: Record<string, string> }).matchLabels;
        return Object.entries(selector).every(([k, v]) => labels[k] === v);
      });
      if (d.metadata.name === 'payment-provider') continue; // dev's provider simulator: not ours to alert on
      expect(
        own.map((m) => m.metadata.name),
        d.metadata.name,
      ).toEqual([d.metadata.name]);
      const endpoints = own[0]!.spec.podMetricsEndpoints as { port: string; path: string }[];
      const container = (podTemplateOf(d)!.spec.containers as unknown as Container[]).find(
        (c) => c.name === d.metadata.name,
      )!;
      const port = container.ports!.find((p) => p.name === endpoints[0]!.port);
      expect(port?.containerPort, `${d.metadata.name} scraped on a declared port`).toBe(
        Number(d.spec.template.metadata.annotations!['prometheus.io/port']),
      );
      expect(endpoints[0]!.path).toBe('/metrics');
    }
  });

  it('ships the alert rules of ops/prometheus/rules/tatkal.yml as a PrometheusRule, unchanged', () => {
    const rules = of<K8sObject & { spec: unknown }>(objects, 'PrometheusRule');
    expect(rules.map((r) => r.metadata.name)).toEqual(['tatkal']);
    const source = parse(readFileSync(join(root, 'ops/prometheus/rules/tatkal.yml'), 'utf8'));
    expect(rules[0]!.spec, 'run `node deploy/k8s/rules.mjs` after editing the rules').toEqual(source);
  });

  it('runs the image the Dockerfile builds and docker-compose.yml names (one image name)', () => {
    const images = new Set(
      // The web app's static site (base/web.yaml) is nginx with its own image, tatkal-web.
      [...deployments.filter((d) => d.metadata.name !== 'web'), ...of(objects, 'Job')].flatMap((o) => {
        const spec = podTemplateOf(o)!.spec;
        return [...spec.containers, ...(spec.initContainers ?? [])].map((c) => c.image);
      }),
    );
    const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { image?: string }>;
    };
    const composeImage = compose.services.gateway!.image!;
    const name = composeImage.replace(/:[\w.-]+$/, '');
    expect(readFileSync(join(root, 'Dockerfile'), 'utf8')).toContain(`docker build -t ${composeImage} .`);
    if (overlay === 'dev') expect([...images]).toEqual([composeImage]);
    else {
      // Production renames it to the registry's copy (kustomize `images`), from the same name.
      const kustomization = parse(readFileSync(join(root, 'deploy/k8s/overlays/prod/kustomization.yaml'), 'utf8'));
      expect(kustomization.images.map((i: { name: string }) => i.name)).toContain(name);
      expect(images.size).toBe(1);
    }
  });
});
