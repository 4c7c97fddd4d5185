// Reliable events over RabbitMQ (docs/events.md). One file per part: the envelope, the topology,
// the reconnecting connection, the outbox relay, the inbox, consumers and the DLQ tools.
export * from './envelope.ts';
export * from './topology.ts';
export * from './connection.ts';
export * from './sql.ts';
export * from './outbox.ts';
export * from './inbox.ts';
export * from './consumer.ts';
export * from './dlq.ts';
