// @tatkal/client: the booking app's operations, typed from the supergraph's API schema, and a
// client that sends them as trusted documents. README.md has a booking in ten lines.
export { TatkalClient, TatkalError, RETRYABLE_CODES, documentHash, isFinal } from './client.ts';
export type { PollOptions, Reservation, RequestOptions, RetryOptions, Session, TatkalClientOptions } from './client.ts';
// Every operation's typed document (…Document), its result and variables types, and the schema's types.
export * from './gql/graphql.ts';
