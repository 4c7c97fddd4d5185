// The booking app's client: the generated, typed operations (./gql) sent with graphql-request.
// What it adds to a plain request, one module each:
//   - trusted documents (documents.ts): each operation goes by its SHA-256 (Apollo's persistedQuery
//     extension), the only form the gateway accepts in production; `documents: 'text'` sends the text
//   - the session (session.ts): the bearer token on every request, refreshed shortly before it
//     expires and once after an HTTP 401, one refresh at a time (refresh tokens rotate on every use)
//   - retries of TRY_AGAIN and IDEMPOTENCY_IN_PROGRESS (retry.ts): the same request again (same
//     variables, so the same idempotency key) after the server's hint (`extensions.retryAfterMs`, or
//     Retry-After)
//   - the queue (retry.ts): a QUEUED reservation is polled (`reservation(pnr)`) until its final outcome
// Errors are TatkalError (errors.ts); this file is the client and its operations.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { GraphQLClient } from 'graphql-request';
import { prepare, serializer } from './documents.ts';
import { RETRYABLE_CODES, TatkalError, toTatkalError } from './errors.ts';
import {
  AvailabilityDocument,
  CancelReservationDocument,
  CancellationQuoteDocument,
  MeDocument,
  MyPaymentsDocument,
  MyReservationsDocument,
  PayDocument,
  PaymentDocument,
  RefreshSessionDocument,
  RegisterDocument,
  RequestIdentityCodeDocument,
  ReservationDocument,
  ReservationStatusDocument,
  ReserveSeatsDocument,
  SearchStationsDocument,
  SearchTrainsDocument,
  SeatMapDocument,
  SignInDocument,
  SignOutDocument,
  TrainsBetweenDocument,
  TrainStopsDocument,
  VerifyIdentityDocument,
  type AvailabilityQueryVariables,
  type MyPaymentsQueryVariables,
  type MyReservationsQueryVariables,
  type RegisterInput,
  type ReservationDetailsFragment,
  type ReserveSeatsInput,
  type SeatMapQueryVariables,
  type TrainsBetweenQueryVariables,
} from './gql/graphql.ts';
import {
  abortReason,
  pollDefaults,
  pollUntilFinal,
  retryDefaults,
  retryDelay,
  sleep,
  type PollOptions,
  type RetryOptions,
  type WaitOptions,
} from './retry.ts';
import { SessionKeeper, type Session } from './session.ts';

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
  private readonly sessions: SessionKeeper;

  constructor(opts: TatkalClientOptions) {
    this.url = opts.url;
    this.mode = opts.documents ?? 'hash';
    this.retry = retryDefaults(opts.retry);
    this.poll = pollDefaults(opts.poll);
    this.sessions = new SessionKeeper({
      session: opts.session,
      onSession: opts.onSession,
      refreshMarginMs: opts.refreshMarginMs ?? 30_000,
      exchange: async (refreshToken) =>
        (await this.request(RefreshSessionDocument, { refreshToken }, { auth: false })).refreshSession,
    });
    this.gql = new GraphQLClient(opts.url, {
      headers: opts.headers,
      fetch: opts.fetch,
      jsonSerializer: serializer,
      // The key sent is the document's text or its hash: nothing for graphql-request to parse.
      excludeOperationName: true,
    });
  }

  get session(): Session | null {
    return this.sessions.session;
  }

  setSession(session: Session | null): void {
    this.sessions.set(session);
  }

  /** Any generated operation, typed by its document. */
  async request<TResult, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
    opts: RequestOptions = {},
  ): Promise<TResult> {
    const prepared = prepare(document as TypedDocumentNode<unknown, unknown>, this.mode);
    const auth = opts.auth ?? this.sessions.session !== null;
    const attempts = opts.retry === false ? 1 : Math.max(1, this.retry.attempts);
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      const token = auth ? await this.sessions.validAccessToken() : null;
      try {
        return await this.gql.request<TResult>({
          document: prepared.key,
          variables: variables as Record<string, unknown>,
          requestHeaders: token ? { authorization: `Bearer ${token}` } : undefined,
          signal: opts.signal,
        } as never);
      } catch (raw) {
        // A closed screen's abort is not a failure to retry or report: the caller sees its reason.
        if (opts.signal?.aborted) throw abortReason(opts.signal);
        const err = toTatkalError(raw);
        // A refused token is refused before anything runs (HTTP 401): refresh once and resend.
        const refreshable = !refreshed && this.sessions.session?.refreshToken;
        if (token && err.status === 401 && err.code === 'UNAUTHENTICATED' && refreshable) {
          refreshed = true;
          await this.sessions.refresh(token);
          attempt--;
          continue;
        }
        if (!RETRYABLE_CODES.has(err.code) || attempt >= attempts) throw err;
        await sleep(retryDelay(this.retry, attempt, err.retryAfterMs), opts.signal);
      }
    }
  }

  /**
   * A new token pair from the refresh token. Concurrent callers share one refresh; a caller whose
   * token was already replaced gets the new session without another refresh.
   */
  async refresh(staleAccessToken?: string): Promise<Session> {
    return this.sessions.refresh(staleAccessToken);
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
    const refreshToken = this.sessions.session?.refreshToken;
    this.setSession(null);
    if (refreshToken) await this.request(SignOutDocument, { refreshToken }, { auth: false });
  }

  /** The signed-in user (role, identity verification), or null when anonymous. */
  async me() {
    return (await this.request(MeDocument, {})).me;
  }

  // ── identity verification (only verified accounts may book Tatkal) ──

  /** Sends a 6-digit code to the account's mobile number (one a minute; IDENTITY_CODE_RESEND_TOO_SOON). */
  async requestIdentityCode(opts: { idempotencyKey?: string } = {}) {
    const { requestIdentityCode } = await this.request(RequestIdentityCodeDocument, {
      idempotencyKey: opts.idempotencyKey ?? globalThis.crypto.randomUUID(),
    });
    return requestIdentityCode;
  }

  /**
   * Proves the phone with the code. The session's access token becomes the new one, which says
   * `verified`; the refresh token stays (its next refresh says so too).
   */
  async verifyIdentity(code: string) {
    const { verifyIdentity } = await this.request(VerifyIdentityDocument, { code });
    const current = this.sessions.session;
    this.setSession({
      ...current,
      accessToken: verifyIdentity.accessToken,
      accessTokenExpiresAt: verifyIdentity.accessTokenExpiresAt,
      user: verifyIdentity.user,
    });
    return verifyIdentity;
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

  /** One run's availability per class for a quota (GENERAL by default), with its window's opening. */
  async availability(variables: AvailabilityQueryVariables) {
    return (await this.request(AvailabilityDocument, variables)).availability;
  }

  /** A train's route (its stops, times, days and distances), or null for an unknown number. */
  async trainStops(number: string) {
    return (await this.request(TrainStopsDocument, { number })).train;
  }

  async seatMap(variables: SeatMapQueryVariables) {
    return (await this.request(SeatMapDocument, variables)).seatMap;
  }

  // ── reserving ──

  /**
   * reserveSeats with one idempotency key for every retry; a QUEUED answer is polled until the
   * queue decides (HELD, WAITLISTED, REFUSED with `refusalCode`) unless `wait: false`. Refusals
   * that are answered at once (SOLD_OUT, SEAT_UNAVAILABLE, ...) are thrown as TatkalError.
   * `onProgress` sees every answer (the waiting room, then the moving queuePosition); an aborted
   * `signal` stops the request or the polling (the reservation stays: poll it again by its PNR).
   */
  async reserve(
    input: ReserveSeatsInput,
    opts: { idempotencyKey?: string; wait?: boolean; retry?: boolean } & WaitOptions<Reservation> = {},
  ): Promise<Reservation> {
    const idempotencyKey = opts.idempotencyKey ?? globalThis.crypto.randomUUID();
    const { reserveSeats } = await this.request(
      ReserveSeatsDocument,
      { input, idempotencyKey },
      { retry: opts.retry, signal: opts.signal },
    );
    if (opts.wait === false) {
      opts.onProgress?.(reserveSeats);
      return reserveSeats;
    }
    return this.waitForOutcome(reserveSeats, opts);
  }

  /**
   * Polls a QUEUED reservation until it is final or `timeoutMs` passes (then the last answer,
   * still QUEUED), waiting half the estimated wait between polls, within the poll bounds. Every
   * answer goes to `onProgress`; an aborted `signal` rejects at once and polls no more.
   */
  async waitForOutcome(
    reservation: Reservation,
    opts: { timeoutMs?: number; retry?: boolean } & WaitOptions<Reservation> = {},
  ): Promise<Reservation> {
    const poll = { ...this.poll, timeoutMs: opts.timeoutMs ?? this.poll.timeoutMs };
    const { signal, onProgress } = opts;
    return pollUntilFinal(
      reservation,
      poll,
      async () => {
        const { reservation: now } = await this.request(
          ReservationStatusDocument,
          { pnr: reservation.pnr },
          { retry: opts.retry, signal },
        );
        if (!now) throw new TatkalError('NOT_FOUND', `reservation ${reservation.pnr} is not found`);
        return now;
      },
      { signal, onProgress },
    );
  }

  /** A reservation with its journey and payment (null: not found, or another user's). */
  async reservation(pnr: string) {
    return (await this.request(ReservationDocument, { pnr })).reservation;
  }

  async myReservations(variables: MyReservationsQueryVariables = {}) {
    return (await this.request(MyReservationsDocument, variables)).myReservations;
  }

  /** What cancelling these passengers (all active ones by default) would refund now (CANCELLATION_CLOSED: no). */
  async cancellationQuote(pnr: string, passengerIds?: string[]) {
    return (await this.request(CancellationQuoteDocument, { pnr, passengerIds })).cancellationQuote;
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

  /** One payment of the caller's (null: not found, or another user's). */
  async payment(id: string) {
    return (await this.request(PaymentDocument, { id })).payment;
  }

  async myPayments(variables: MyPaymentsQueryVariables = {}) {
    return (await this.request(MyPaymentsDocument, variables)).myPayments;
  }
}
