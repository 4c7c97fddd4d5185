// A TCP proxy in front of RabbitMQ that a test can stop and start on the same port: to the client
// it looks like a broker restart (or a broker that is not there yet).
import net from 'node:net';
import { AMQP_URL } from './env.ts';

export interface BrokerProxy {
  port: number;
  /** AMQP_URL, but through the proxy. */
  url: string;
  /** Listens on `port` (again). */
  start: () => Promise<void>;
  /** Stops listening and cuts every open connection. */
  stop: () => Promise<void>;
}

/** Picks a free port; the proxy does not listen until `start()`. */
export async function createBrokerProxy(): Promise<BrokerProxy> {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));

  const broker = new URL(AMQP_URL);
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((client) => {
    const upstream = net.connect(Number(broker.port || 5672), broker.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const url = new URL(AMQP_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    port,
    url: url.toString(),
    start: () => new Promise<void>((r) => proxy.listen(port, '127.0.0.1', r)),
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        if (!proxy.listening) return r();
        proxy.close(() => r());
      }),
  };
}
