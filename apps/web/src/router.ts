// Hash routes (#/pnr/1234567890?x=y): a static host serves index.html for every screen.
import { signal } from './store.ts';

export interface Route {
  path: string[];
  query: URLSearchParams;
}

function parse(): Route {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path = '/', search = ''] = hash.split('?');
  return { path: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(search) };
}

export const route = signal<Route>(parse());
window.addEventListener('hashchange', () => route.set(parse()));

export function href(path: string, query: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined));
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}

export function navigate(path: string, query: Record<string, string | undefined> = {}): void {
  location.hash = href(path, query);
}
