// Reliable events over RabbitMQ (docs/events.md), one file per part in messaging/: the envelope's
// parser and builder, the topology, the reconnecting connection, the outbox relay, the inbox,
// consumers, DLQ tools.
export * from './messaging/envelope.ts';
export * from './messaging/eventEnvelope.ts';
export * from './messaging/topology.ts';
export * from './messaging/connection.ts';
export * from './messaging/sql.ts';
export * from './messaging/outbox.ts';
export * from './messaging/inbox.ts';
export * from './messaging/consumer.ts';
export * from './messaging/dlq.ts';
