// The one TatkalClient of the app: trusted documents by hash (the gateway's production mode), the
// session kept in localStorage (refreshed by the client), the gateway's URL from config.json.
import { TatkalClient, TatkalError, type Session } from '@tatkal/client';
import { signal } from './store.ts';

const SESSION_KEY = 'tatkal.session';

function savedSession(): Session | null {
  try {
    const raw = localStorage.getItem(SESSION_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

/** The signed-in session (null: anonymous); screens re-render on sign-in, refresh and sign-out. */
export const session = signal<Session | null>(savedSession());

let instance: TatkalClient | null = null;

/** Reads config.json beside index.html (the deployment's gateway URL) once, then builds the client. */
export async function connect(): Promise<TatkalClient> {
  if (instance) return instance;
  let url = import.meta.env.VITE_GATEWAY_URL as string | undefined;
  try {
    const res = await fetch('./config.json', { cache: 'no-store' });
    if (res.ok) url = ((await res.json()) as { gatewayUrl?: string }).gatewayUrl ?? url;
  } catch {
    /* no config.json: the build's default */
  }
  instance = new TatkalClient({
    url: new URL(url ?? '/graphql', location.href).toString(),
    session: session.get(),
    onSession: (next) => {
      if (next) localStorage.setItem(SESSION_KEY, JSON.stringify(next));
      else localStorage.removeItem(SESSION_KEY);
      session.set(next);
    },
  });
  return instance;
}

/** The client, once connect() has run (main.tsx awaits it before the first render). */
export function client(): TatkalClient {
  if (!instance) throw new Error('connect() first');
  return instance;
}

/** An error's code and message for a screen (AbortError: null, nothing to show). */
export function describeError(err: unknown): { code: string; message: string } | null {
  if (err instanceof DOMException && err.name === 'AbortError') return null;
  if (err instanceof TatkalError) return { code: err.code, message: err.message };
  return { code: 'ERROR', message: err instanceof Error ? err.message : String(err) };
}
