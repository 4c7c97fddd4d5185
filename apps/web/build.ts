// The app's production build (dist/) and its budget: the JavaScript of the first load, gzipped,
// at most 150 kB (a Tatkal rush is on phones, on crowded networks). Prints the figure; exit 1 when over.
//   tsx apps/web/build.ts              build (npm run build in apps/web)
//   tsx apps/web/build.ts --if-stale   only when a source is newer than dist/ (npm start, npm test)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const BUDGET_BYTES = 150 * 1024;
const root = import.meta.dirname;
export const DIST = join(root, 'dist');

/** The scripts index.html loads (module entry and preloads) and their gzipped size in bytes. */
export function firstLoadJs(dist = DIST): { files: string[]; gzipBytes: number } {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const files = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
  const gzipBytes = files.reduce((sum, f) => sum + gzipSync(readFileSync(join(dist, f)), { level: 9 }).length, 0);
  return { files, gzipBytes };
}

/** Newest modification time under the app's sources (src, index.html, configs) and the client's. */
export function newestSource(): number {
  const walk = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((max, e) => {
      const p = join(dir, e.name);
      return Math.max(max, e.isDirectory() ? walk(p) : statSync(p).mtimeMs);
    }, 0);
  const files = ['index.html', 'vite.config.ts', 'package.json'].map((f) => statSync(join(root, f)).mtimeMs);
  return Math.max(
    walk(join(root, 'src')),
    walk(join(root, 'public')),
    walk(join(root, '../../packages/client/src')),
    ...files,
  );
}

export async function buildApp(): Promise<{ files: string[]; gzipBytes: number }> {
  // Loaded here, not at the top: the staleness check (every npm start / npm test) stays fast.
  const { build } = await import('vite');
  await build({ configFile: join(root, 'vite.config.ts'), logLevel: 'warn' });
  const size = firstLoadJs();
  const kb = (size.gzipBytes / 1024).toFixed(1);
  const line = `web: first-load JS ${kb} kB gzipped (${size.files.length} file(s)), budget ${BUDGET_BYTES / 1024} kB`;
  if (size.gzipBytes > BUDGET_BYTES) throw new Error(`${line}: OVER BUDGET`);
  console.log(`${line}: ok`);
  return size;
}

/** Whether dist/ is missing or older than a source. */
export function isStale(): boolean {
  const index = join(DIST, 'index.html');
  return !existsSync(index) || statSync(index).mtimeMs < newestSource();
}

if (process.argv[1] === import.meta.filename) {
  const onlyIfStale = process.argv.includes('--if-stale');
  (onlyIfStale && !isStale() ? Promise.resolve() : buildApp()).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
