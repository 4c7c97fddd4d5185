// The session: the bearer token on every request, refreshed shortly before it expires and once
// after an HTTP 401, one refresh at a time (refresh tokens rotate on every use).
import type { SessionFragment } from './gql/graphql.ts';
import { TatkalError } from './errors.ts';

/** What the client keeps of a sign-in. Tokens minted elsewhere may come without a refresh token. */
export interface Session {
  accessToken: string;
  /** ISO instant; unknown: the token is used until the gateway refuses it. */
  accessTokenExpiresAt?: string | null;
  refreshToken?: string | null;
  user?: SessionFragment['user'];
}

export interface SessionKeeperOptions {
  session?: Session | null;
  /** Called with every new session (sign-in, refresh) and null on sign-out. */
  onSession?: (session: Session | null) => void;
  /** Refresh the access token this long before it expires. */
  refreshMarginMs: number;
  /** Trades a refresh token for a new session (the refreshSession mutation, sent without a token). */
  exchange: (refreshToken: string) => Promise<Session>;
}

/** Holds the current session and refreshes it: concurrent callers share one refresh. */
export class SessionKeeper {
  private current: Session | null;
  private refreshing: Promise<Session> | null = null;

  constructor(private readonly opts: SessionKeeperOptions) {
    this.current = opts.session ?? null;
  }

  get session(): Session | null {
    return this.current;
  }

  set(session: Session | null): void {
    this.current = session;
    this.opts.onSession?.(session);
  }

  /** The access token, refreshed first when it expires within the margin (and a refresh token is at hand). */
  async validAccessToken(): Promise<string | null> {
    const s = this.current;
    if (!s) return null;
    const expires = s.accessTokenExpiresAt ? Date.parse(s.accessTokenExpiresAt) : NaN;
    if (s.refreshToken && Number.isFinite(expires) && expires - Date.now() < this.opts.refreshMarginMs)
      return (await this.refresh(s.accessToken)).accessToken;
    return s.accessToken;
  }

  /**
   * A new token pair from the refresh token. Concurrent callers share one refresh; a caller whose
   * token was already replaced gets the new session without another refresh.
   */
  async refresh(staleAccessToken?: string): Promise<Session> {
    if (this.refreshing) return this.refreshing;
    const s = this.current;
    if (s && staleAccessToken && s.accessToken !== staleAccessToken) return s;
    if (!s?.refreshToken) throw new TatkalError('UNAUTHENTICATED', 'no refresh token: sign in again');
    const refreshToken = s.refreshToken;
    this.refreshing = (async () => {
      try {
        const session = await this.opts.exchange(refreshToken);
        this.set(session);
        return session;
      } catch (err) {
        // A refresh token refused is the end of this session.
        if (err instanceof TatkalError && err.code === 'UNAUTHENTICATED') this.set(null);
        throw err;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }
}
