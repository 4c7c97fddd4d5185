// Renders a kustomization (deploy/k8s/overlays/<env>) to the list of Kubernetes objects, without
// kubectl or the kustomize binary (neither is available where the tests run, and npm has no
// JavaScript kustomize). It implements exactly the subset of kustomize these manifests use, with
// kustomize's meaning, and refuses any other field, so `kubectl kustomize deploy/k8s/overlays/prod`
// renders the same objects:
//
//   resources   YAML files (several documents each) and directories holding a kustomization.yaml
//   namespace   set on every object (none of ours is cluster-scoped)
//   labels      [{pairs, includeSelectors: false, includeTemplates?}]: metadata labels, and pod
//               template labels with includeTemplates; selectors are never touched
//   images      [{name, newName?, newTag?}]: containers and init containers whose image is `name`
//   replicas    [{name, count}]: spec.replicas of the Deployment with that name
//   patches     [{target: {kind, name}, patch | path}]: JSON 6902 operations (add, replace, remove, test)
//
//   npm run k8s:render -- deploy/k8s/overlays/prod > prod.yaml
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  namespace?: string;
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  images?: { name: string; newName?: string; newTag?: string }[];
  replicas?: { name: string; count: number }[];
  patches?: { target: { kind: string; name: string }; patch?: string; path?: string }[];
}

type JsonPatchOp = { op: 'add' | 'replace' | 'remove' | 'test'; path: string; value?: unknown };

const KNOWN_FIELDS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'namespace',
  'labels',
  'images',
  'replicas',
  'patches',
]);

/** Parses every YAML document of a text strictly (duplicate keys, bad syntax: throws). */
export function parseYamlDocuments(text: string, source: string): unknown[] {
  return parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true }).flatMap((doc) => {
    if ('errors' in doc && doc.errors.length > 0)
      throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as unknown;
    return value == null ? [] : [value];
  });
}

function readKustomization(dir: string): Kustomization {
  const file = join(dir, 'kustomization.yaml');
  const [k] = parseYamlDocuments(readFileSync(file, 'utf8'), file) as Kustomization[];
  if (!k) throw new Error(`${file} is empty`);
  if (k.kind !== undefined && k.kind !== 'Kustomization') throw new Error(`${file}: kind ${k.kind}`);
  for (const key of Object.keys(k))
    if (!KNOWN_FIELDS.has(key))
      throw new Error(`${file}: "${key}" is not in the kustomize subset render.ts implements`);
  return k;
}

/** The objects a kustomization directory renders to, in resource order. */
export function renderKustomization(dir: string): K8sObject[] {
  const root = resolve(dir);
  const k = readKustomization(root);
  let objects: K8sObject[] = [];
  for (const entry of k.resources ?? []) {
    const path = join(root, entry);
    if (statSync(path).isDirectory()) objects.push(...renderKustomization(path));
    else objects.push(...(parseYamlDocuments(readFileSync(path, 'utf8'), path) as K8sObject[]));
  }
  for (const o of objects) {
    if (
      !o ||
      typeof o !== 'object' ||
      typeof o.kind !== 'string' ||
      typeof o.apiVersion !== 'string' ||
      typeof o.metadata?.name !== 'string'
    ) {
      throw new Error(`${root}: a resource without apiVersion, kind or metadata.name`);
    }
  }
  for (const p of k.patches ?? []) {
    const ops = parseYamlDocuments(
      p.path ? readFileSync(join(root, p.path), 'utf8') : (p.patch ?? ''),
      p.path ?? `${root} inline patch`,
    )[0] as JsonPatchOp[];
    if (!Array.isArray(ops))
      throw new Error(
        `${root}: patch for ${p.target.kind}/${p.target.name} is not a JSON 6902 list ` +
          '(strategic merge patches are not supported)',
      );
    const targets = objects.filter((o) => o.kind === p.target.kind && o.metadata.name === p.target.name);
    if (targets.length === 0) throw new Error(`${root}: patch target ${p.target.kind}/${p.target.name} not found`);
    objects = objects.map((o) =>
      targets.includes(o) ? applyJsonPatch(o, ops, `${p.target.kind}/${p.target.name}`) : o,
    );
  }
  for (const r of k.replicas ?? []) {
    const targets = objects.filter((o) => o.kind === 'Deployment' && o.metadata.name === r.name);
    if (targets.length === 0) throw new Error(`${root}: replicas for unknown Deployment ${r.name}`);
    for (const o of targets) (o.spec as { replicas?: number }).replicas = r.count;
  }
  for (const image of k.images ?? []) {
    let matched = false;
    for (const c of objects.flatMap(containersOf)) {
      const { name, tag } = splitImage(c.image);
      if (name !== image.name) continue;
      matched = true;
      c.image = `${image.newName ?? name}${image.newTag ? `:${image.newTag}` : tag ? `:${tag}` : ''}`;
    }
    if (!matched) throw new Error(`${root}: image ${image.name} is used by no container`);
  }
  for (const l of k.labels ?? []) {
    if (l.includeSelectors)
      throw new Error(`${root}: labels with includeSelectors are not supported (selectors are immutable)`);
    for (const o of objects) {
      o.metadata.labels = { ...o.metadata.labels, ...l.pairs };
      const template = podTemplateOf(o);
      if (l.includeTemplates && template)
        template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, ...l.pairs } };
    }
  }
  if (k.namespace) for (const o of objects) o.metadata.namespace = k.namespace;
  return objects;
}

type PodTemplate = {
  metadata?: { labels?: Record<string, string> };
  spec: { containers: { image: string }[]; initContainers?: { image: string }[] };
};

/** The pod template of a Deployment or a Job (null for other kinds). */
export function podTemplateOf(o: K8sObject): PodTemplate | null {
  if (o.kind !== 'Deployment' && o.kind !== 'Job') return null;
  return ((o.spec as { template?: PodTemplate }).template ?? null) as PodTemplate | null;
}

function containersOf(o: K8sObject): { image: string }[] {
  const t = podTemplateOf(o);
  return t ? [...t.spec.containers, ...(t.spec.initContainers ?? [])] : [];
}

function splitImage(image: string): { name: string; tag: string | null } {
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/')
    ? { name: image.slice(0, at), tag: image.slice(at + 1) }
    : { name: image, tag: null };
}

/** RFC 6902 on a copy: add, replace, remove and test, with RFC 6901 pointers ("-" appends). */
export function applyJsonPatch<T>(doc: T, ops: JsonPatchOp[], label = 'document'): T {
  const out = structuredClone(doc) as unknown;
  for (const op of ops) {
    const parts = op.path
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop();
    if (last === undefined) throw new Error(`${label}: cannot patch the root`);
    let parent = out as Record<string, unknown> | unknown[];
    for (const part of parts) {
      const next = Array.isArray(parent) ? parent[Number(part)] : parent[part];
      if (next === undefined || next === null || typeof next !== 'object')
        throw new Error(`${label}: ${op.op} ${op.path}: ${part} does not exist`);
      parent = next as Record<string, unknown> | unknown[];
    }
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.length || (op.op !== 'add' && index >= parent.length))
        throw new Error(`${label}: ${op.op} ${op.path}: no index ${last}`);
      if (op.op === 'add') parent.splice(index, 0, structuredClone(op.value));
      else if (op.op === 'replace') parent[index] = structuredClone(op.value);
      else if (op.op === 'remove') parent.splice(index, 1);
      else if (JSON.stringify(parent[index]) !== JSON.stringify(op.value))
        throw new Error(`${label}: test ${op.path} failed`);
    } else {
      if (op.op !== 'add' && !(last in parent))
        throw new Error(`${label}: ${op.op} ${op.path}: ${last} does not exist`);
      if (op.op === 'add' || op.op === 'replace') parent[last] = structuredClone(op.value);
      else if (op.op === 'remove') delete parent[last];
      else if (JSON.stringify(parent[last]) !== JSON.stringify(op.value))
        throw new Error(`${label}: test ${op.path} failed`);
    }
  }
  return out as T;
}

/** Multi-document YAML, as `kubectl kustomize` prints it. */
export function toYaml(objects: K8sObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: npm run k8s:render -- deploy/k8s/overlays/<dev|prod>');
    process.exit(2);
  }
  process.stdout.write(toYaml(renderKustomization(dirname(join(dir, 'kustomization.yaml')))));
}
