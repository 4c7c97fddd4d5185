// Renders a kustomization with the real kustomize: `kubectl kustomize` (kubectl embeds it; .ci/run
// installs kubectl when it is missing). No hand-written renderer: what the tests check is what
// `kubectl apply -k` would send.
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { containers: { image: string }[]; initContainers?: { image: string }[]; [key: string]: unknown };
}

/** `kubectl kustomize <dir>` as objects; throws with a clear message when kubectl is missing. */
export function kustomize(dir: string): K8sObject[] {
  let out: string;
  try {
    out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error(
        'kubectl is not installed: the manifests are rendered by `kubectl kustomize` (apt-get install kubectl)',
      );
    throw new Error(`kubectl kustomize ${dir} failed: ${e.stderr ?? e.message}`);
  }
  return parseAllDocuments(out).map((doc) => {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((x) => x.message).join('\n'));
    return doc.toJS() as K8sObject;
  });
}

/** The pod template of a Deployment or Job, null for other kinds. */
export function podTemplateOf(o: K8sObject): PodTemplate | null {
  if (o.kind !== 'Deployment' && o.kind !== 'Job') return null;
  return ((o.spec as { template?: PodTemplate }).template ?? null) as PodTemplate | null;
}
