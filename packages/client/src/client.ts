// The booking app's client: the generated, typed operations (./gql) sent with graphql-request.
// What it adds to a plain request:
//   - trusted documents: each operation goes by its SHA-256 (Apollo's persistedQuery extension),
//     the only form the gateway accepts in production; `documents: 'text'` sends the text instead
//   - the session: the bearer token on every request, refreshed shortly before it expires and once
//     after an HTTP 401, one refresh at a time (refresh tokens rotate on every use)
//   - retries of TRY_AGAIN and IDEMPOTENCY_IN_PROGRESS: the same request again (same variables, so
//     the same idempotency key) after the server's hint (`extensions.retryAfterMs`, or Retry-After)
//   - the queue: a QUEUED reservation is polled (`reservation(pnr)`) until its final outcome
import { print } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { ClientError, GraphQLClient } from 'graphql-request';
import {
  CancelReservationDocument,
  MyPaymentsDocument,
  MyReservationsDocument,
  PayDocument,
  RefreshSessionDocument,
  RegisterDocument,
  ReservationDocument,
  ReservationStatusDocument,
  ReserveSeatsDocument,
  SearchStationsDocument,
  SearchTrainsDocument,
  SeatMapDocument,
  SignInDocument,
  SignOutDocument,
  TrainsBetweenDocument,
  type MyPaymentsQueryVariables,
  type MyReservationsQueryVariables,
  type RegisterInput,
  type ReservationDetailsFragment,
  type ReserveSeatsInput,
  type SeatMapQueryVariables,
  type SessionFragment,
  type TrainsBetweenQueryVariables,
} from './gql/graphql.ts';

/** What the client keeps of a sign-in. Tokens minted elsewhere may come without a refresh token. */
export interface Session {
  accessToken: string;
  /** ISO instant; unknown: the token is used until the gateway refuses it. */
  accessTokenExpiresAt?: string | null;
  refreshToken?: string | null;
  user?: SessionFragment['user'];
}

export interface RetryOptions {
  /** Attempts in all, the first included (1: no retry). Default 5. */
  attempts?: number;
  /** Wait when the answer gives no hint. Default 500 ms. */
  defaultDelayMs?: number;
  /** Longest wait between two attempts. Default 10 s. */
  maxDelayMs?: number;
}

export interface PollOptions {
  /** Give up (return the reservation still QUEUED) after this long. Default 120 s. */
  timeoutMs?: number;
  /** Shortest and longest wait between polls; in between, half the estimated wait. Default 250 ms and 2 s. */
  minIntervalMs?: number;
  maxIntervalMs?: number;
}

export interface TatkalClientOptions {
  /** The gateway's GraphQL endpoint, e.g. https://api.example.in/graphql. */
  url: string;
  /**
   * 'hash' (default): trusted documents by hash. 'text': the document's text (a gateway in
   * development, Apollo Sandbox-like tools).
   */
  documents?: 'hash' | 'text';
  session?: Session | null;
  /** Called with every new session (sign-in, refresh) and null on sign-out: persist it here. */
  onSession?: (session: Session | null) => void;
  retry?: RetryOptions;
  poll?: PollOptions;
  /** Refresh the access token this long before it expires. Default 30 s. */
  refreshMarginMs?: number;
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

/** Any failed request: `code` is the first GraphQL error's `extensions.code`, else HTTP_<status> or NETWORK_<error>. */
export class TatkalError extends Error {
  readonly code: string;
  readonly status: number | null;
  readonly errors: { message: string; extensions?: Record<string, unknown> }[];
  /** The server's retry hint in milliseconds (`retryAfterMs`, `retryAfterSeconds` or Retry-After), if any. */
  readonly retryAfterMs: number | null;
  constructor(
    code: string,
    message: string,
    opts: {
      status?: number | null;
      errors?: TatkalError['errors'];
      retryAfterMs?: number | null;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'TatkalError';
    this.code = code;
    this.status = opts.status ?? null;
    this.errors = opts.errors ?? [];
    this.retryAfterMs = opts.retryAfterMs ?? null;
  }
}

/** Codes that mean "send the same request again later" (docs/api.md). */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set(['TRY_AGAIN', 'IDEMPOTENCY_IN_PROGRESS']);

/** Statuses of a reservation the queue has decided (anything but QUEUED). */
export const isFinal = (r: { status: string }) => r.status !== 'QUEUED';

interface PersistedDocument {
  __meta__?: { hash?: string };
}

/** An operation's trusted-document hash: the hex SHA-256 the gateway's manifest knows it by. */
export function documentHash(document: TypedDocumentNode<unknown, never>): string {
  const hash = (document as PersistedDocument).__meta__?.hash;
  if (!hash) throw new TatkalError('NOT_PERSISTED', 'this document has no persisted-document hash');
  return hash.replace(/^sha256:/, '');
}

interface Prepared {
  /** What graphql-request sends as `query`: the key the serializer looks the operation up by. */
  key: string;
  /** The document's text (printed once). */
  text: string;
  operationName: string | undefined;
  /** The persistedQuery hash (hex, without the `sha256:` prefix); undefined when sent as text. */
  hash: string | undefined;
}

// Prepared once per document and mode: print() and the operation name are not worked out per request.
const preparedByDocument = new WeakMap<object, { text?: Prepared; hash?: Prepared }>();
const preparedByKey = new Map<string, Prepared>();

function prepare(document: TypedDocumentNode<unknown, unknown>, mode: 'hash' | 'text'): Prepared {
  let entry = preparedByDocument.get(document);
  if (!entry) {
    entry = {};
    preparedByDocument.set(document, entry);
  }
  const known = entry[mode];
  if (known) return known;
  const operation = document.definitions.find((d) => d.kind === 'OperationDefinition');
  const operationName = operation && 'name' in operation ? operation.name?.value : undefined;
  const text = print(document);
  let prepared: Prepared;
  if (mode === 'text') prepared = { key: text, text, operationName, hash: undefined };
  else {
    const hash = (document as PersistedDocument).__meta__?.hash?.replace(/^sha256:/, '');
    if (!hash)
      throw new TatkalError(
        'NOT_PERSISTED',
        `operation ${operationName ?? '(anonymous)'} has no persisted-document hash: send it as text`,
      );
    prepared = { key: `persisted:${hash}`, text, operationName, hash };
  }
  entry[mode] = prepared;
  preparedByKey.set(prepared.key, prepared);
  return prepared;
}

/**
 * graphql-request's body with the operation's name; in hash mode the persisted form instead: the
 * name, the variables and `extensions.persistedQuery` (Apollo's format, which Hive Gateway reads too).
 */
const serializer = {
  parse: JSON.parse,
  stringify(value: unknown): string {
    const body = value as { query?: unknown; variables?: unknown };
    const prepared = typeof body?.query === 'string' ? preparedByKey.get(body.query) : undefined;
    if (!prepared) return JSON.stringify(value);
    if (prepared.hash)
      return JSON.stringify({
        operationName: prepared.operationName,
        variables: body.variables,
        extensions: { persistedQuery: { version: 1, sha256Hash: prepared.hash } },
      });
    return JSON.stringify({ query: prepared.text, operationName: prepared.operationName, variables: body.variables });
  },
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function hintOf(err: ClientError): number | null {
  const ext = err.response.errors?.[0]?.extensions as Record<string, unknown> | undefined;
  if (typeof ext?.retryAfterMs === 'number' && ext.retryAfterMs >= 0) return ext.retryAfterMs;
  if (typeof ext?.retryAfterSeconds === 'number' && ext.retryAfterSeconds >= 0) return ext.retryAfterSeconds * 1000;
  const header = err.response.headers?.get?.('retry-after');
  const seconds = header ? Number(header) : NaN;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null;
}

function toTatkalError(err: unknown): TatkalError {
  if (err instanceof TatkalError) return err;
  if (err instanceof ClientError) {
    const errors = (err.response.errors ?? []) as unknown as TatkalError['errors'];
    const first = errors[0];
    const code =
      typeof first?.extensions?.code === 'string'
        ? first.extensions.code
        : errors.length
          ? 'GRAPHQL_ERROR'
          : `HTTP_${err.response.status}`;
    return new TatkalError(code, first?.message ?? `HTTP ${err.response.status}`, {
      status: err.response.status,
      errors,
      retryAfterMs: hintOf(err),
      cause: err,
    });
  }
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  return new TatkalError(`NETWORK_${e.cause?.code ?? e.code ?? e.name ?? 'Error'}`, e.message ?? String(err), {
    cause: err,
  });
}

export interface RequestOptions {
  /** Send the session's bearer token (default: when there is a session). */
  auth?: boolean;
  /** Retry TRY_AGAIN / IDEMPOTENCY_IN_PROGRESS (default true). */
  retry?: boolean;
  signal?: AbortSignal;
}

export type Reservation = ReservationDetailsFragment;

export class TatkalClient {
  readonly url: string;
  private readonly gql: GraphQLClient;
  private readonly mode: 'hash' | 'text';
  private readonly retry: Required<RetryOptions>;
  private readonly poll: Required<PollOptions>;
  private readonly refreshMarginMs: number;
  private readonly onSession?: (session: Session | null) => void;
  private current: Session | null;
  private refreshing: Promise<Session> | null = null;

  constructor(opts: TatkalClientOptions) {
    this.url = opts.url;
    this.mode = opts.documents ?? 'hash';
    this.current = opts.session ?? null;
    this.onSession = opts.onSession;
    this.retry = { attempts: 5, defaultDelayMs: 500, maxDelayMs: 10_000, ...opts.retry };
    this.poll = { timeoutMs: 120_000, minIntervalMs: 250, maxIntervalMs: 2_000, ...opts.poll };
    this.refreshMarginMs = opts.refreshMarginMs ?? 30_000;
    this.gql = new GraphQLClient(opts.url, {
      headers: opts.headers,
      fetch: opts.fetch,
      jsonSerializer: serializer,
      // The key sent is the document's text or its hash: nothing for graphql-request to parse.
      excludeOperationName: true,
    });
  }

  get session(): Session | null {
    return this.current;
  }

  setSession(session: Session | null): void {
    this.current = session;
    this.onSession?.(session);
  }

  /** Any generated operation, typed by its document. */
  async request<TResult, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
    opts: RequestOptions = {},
  ): Promise<TResult> {
    const prepared = prepare(document as TypedDocumentNode<unknown, unknown>, this.mode);
    const auth = opts.auth ?? this.current !== null;
    const attempts = opts.retry === false ? 1 : Math.max(1, this.retry.attempts);
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      const token = auth ? await this.validAccessToken() : null;
      try {
        return await this.gql.request<TResult>({
          document: prepared.key,
          variables: variables as Record<string, unknown>,
          requestHeaders: token ? { authorization: `Bearer ${token}` } : undefined,
          signal: opts.signal,
        } as never);
      } catch (raw) {
        const err = toTatkalError(raw);
        // A refused token is refused before anything runs (HTTP 401): refresh once and resend.
        if (token && err.status === 401 && err.code === 'UNAUTHENTICATED' && !refreshed && this.current?.refreshToken) {
          refreshed = true;
          await this.refresh(token);
          attempt--;
          continue;
        }
        if (!RETRYABLE_CODES.has(err.code) || attempt >= attempts) throw err;
        const fallback = Math.min(this.retry.maxDelayMs, this.retry.defaultDelayMs * 2 ** (attempt - 1));
        await sleep(Math.min(this.retry.maxDelayMs, err.retryAfterMs ?? fallback));
      }
    }
  }

  /** The access token, refreshed first when it expires within the margin (and a refresh token is at hand). */
  private async validAccessToken(): Promise<string | null> {
    const s = this.current;
    if (!s) return null;
    const expires = s.accessTokenExpiresAt ? Date.parse(s.accessTokenExpiresAt) : NaN;
    if (s.refreshToken && Number.isFinite(expires) && expires - Date.now() < this.refreshMarginMs)
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
        const { refreshSession } = await this.request(RefreshSessionDocument, { refreshToken }, { auth: false });
        this.setSession(refreshSession);
        return refreshSession;
      } catch (err) {
        // A refresh token refused is the end of this session.
        if (err instanceof TatkalError && err.code === 'UNAUTHENTICATED') this.setSession(null);
        throw err;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  // ── signing in ──

  async register(input: RegisterInput): Promise<Session> {
    const { register } = await this.request(RegisterDocument, { input }, { auth: false });
    this.setSession(register);
    return register;
  }

  async signIn(email: string, password: string): Promise<Session> {
    const { login } = await this.request(SignInDocument, { email, password }, { auth: false });
    this.setSession(login);
    return login;
  }

  async signOut(): Promise<void> {
    const refreshToken = this.current?.refreshToken;
    this.setSession(null);
    if (refreshToken) await this.request(SignOutDocument, { refreshToken }, { auth: false });
  }

  // ── finding a train ──

  async searchStations(query: string, first = 10) {
    return (await this.request(SearchStationsDocument, { query, first })).searchStations;
  }

  async searchTrains(query: string, first = 10) {
    return (await this.request(SearchTrainsDocument, { query, first })).searchTrains;
  }

  /** Trains between two stations on a date, each with its run's availability (of `class` only, when given). */
  async trainsBetween(variables: TrainsBetweenQueryVariables) {
    return (await this.request(TrainsBetweenDocument, variables)).trainsBetween;
  }

  async seatMap(variables: SeatMapQueryVariables) {
    return (await this.request(SeatMapDocument, variables)).seatMap;
  }

  // ── reserving ──

  /**
   * reserveSeats with one idempotency key for every retry; a QUEUED answer is polled until the
   * queue decides (HELD, WAITLISTED, REFUSED with `refusalCode`) unless `wait: false`. Refusals
   * that are answered at once (SOLD_OUT, SEAT_UNAVAILABLE, ...) are thrown as TatkalError.
   */
  async reserve(
    input: ReserveSeatsInput,
    opts: { idempotencyKey?: string; wait?: boolean; retry?: boolean } = {},
  ): Promise<Reservation> {
    const idempotencyKey = opts.idempotencyKey ?? globalThis.crypto.randomUUID();
    const { reserveSeats } = await this.request(ReserveSeatsDocument, { input, idempotencyKey }, { retry: opts.retry });
    return opts.wait === false ? reserveSeats : this.waitForOutcome(reserveSeats);
  }

  /**
   * Polls a QUEUED reservation until it is final or `timeoutMs` passes (then the last answer,
   * still QUEUED), waiting half the estimated wait between polls, within the poll bounds.
   */
  async waitForOutcome(
    reservation: Reservation,
    opts: { timeoutMs?: number; retry?: boolean } = {},
  ): Promise<Reservation> {
    const deadline = Date.now() + (opts.timeoutMs ?? this.poll.timeoutMs);
    let last = reservation;
    while (!isFinal(last)) {
      if (Date.now() > deadline) return last;
      await sleep(
        Math.min(
          this.poll.maxIntervalMs,
          Math.max(this.poll.minIntervalMs, ((last.estimatedWaitSeconds ?? 1) * 1000) / 2),
        ),
      );
      const { reservation: now } = await this.request(
        ReservationStatusDocument,
        { pnr: reservation.pnr },
        { retry: opts.retry },
      );
      if (!now) throw new TatkalError('NOT_FOUND', `reservation ${reservation.pnr} is not found`);
      last = now;
    }
    return last;
  }

  /** A reservation with its journey and payment (null: not found, or another user's). */
  async reservation(pnr: string) {
    return (await this.request(ReservationDocument, { pnr })).reservation;
  }

  async myReservations(variables: MyReservationsQueryVariables = {}) {
    return (await this.request(MyReservationsDocument, variables)).myReservations;
  }

  /** Cancels some passengers (by id) or the whole reservation. */
  async cancel(pnr: string, opts: { passengerIds?: string[]; idempotencyKey?: string } = {}): Promise<Reservation> {
    const { cancelReservation } = await this.request(CancelReservationDocument, {
      pnr,
      passengerIds: opts.passengerIds,
      idempotencyKey: opts.idempotencyKey ?? globalThis.crypto.randomUUID(),
    });
    return cancelReservation;
  }

  // ── paying ──

  /** Starts paying a HELD reservation: a PENDING payment whose checkoutUrl the traveller opens. */
  async pay(reservationId: string, opts: { idempotencyKey?: string; retry?: boolean } = {}) {
    const { createPayment } = await this.request(
      PayDocument,
      { reservationId, idempotencyKey: opts.idempotencyKey ?? globalThis.crypto.randomUUID() },
      { retry: opts.retry },
    );
    return createPayment;
  }

  async myPayments(variables: MyPaymentsQueryVariables = {}) {
    return (await this.request(MyPaymentsDocument, variables)).myPayments;
  }
}
