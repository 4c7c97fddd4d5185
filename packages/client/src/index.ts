// @tatkal/client: the booking app's operations, typed from the supergraph's API schema, and a
// client that sends them as trusted documents. README.md has a booking in ten lines.
export { TatkalClient } from './client.ts';
export { RETRYABLE_CODES, TatkalError } from './errors.ts';
export { documentHash } from './documents.ts';
export { isFinal } from './retry.ts';
// The typed-document function over the operations in src/operations (the manifest's: an operation
// not among them has no hash, and the gateway refuses it in production).
export { graphql } from './gql/gql.ts';
export type { Reservation, RequestOptions, TatkalClientOptions } from './client.ts';
export type { PollOptions, RetryOptions, WaitOptions } from './retry.ts';
export type { Session } from './session.ts';
// Every operation's typed document (…Document), its result and variables types, and the schema's types.
export * from './gql/graphql.ts';
