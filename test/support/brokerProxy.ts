// A TCP proxy in front of a real service (RabbitMQ, PostgreSQL) that a test can stop and start on
// the same port: to the client it looks like a restart of the service (or one not there yet).
import net from 'node:net';
import { AMQP_URL, PG_ADMIN_URL } from './env.ts';

export interface TcpProxy {
  port: number;
  /** Listens on `port` (again). */
  start: () => Promise<void>;
  /** Stops listening and cuts every open connection. */
  stop: () => Promise<void>;
}

export interface BrokerProxy extends TcpProxy {
  /** AMQP_URL, but through the proxy. */
  url: string;
}

/** Picks a free port; the proxy does not listen until `start()`. */
export async function createTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));

  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
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
  return {
    port,
    start: () => new Promise<void>((r) => proxy.listen(port, '127.0.0.1', r)),
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        if (!proxy.listening) return r();
        proxy.close(() => r());
      }),
  };
}

/** RabbitMQ through a proxy: `url` is AMQP_URL on the proxy's port. */
export async function createBrokerProxy(): Promise<BrokerProxy> {
  const broker = new URL(AMQP_URL);
  const proxy = await createTcpProxy({ host: broker.hostname, port: Number(broker.port || 5672) });
  const url = new URL(AMQP_URL);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  return { ...proxy, url: url.toString() };
}

/** PostgreSQL through a proxy: `urlFor(databaseUrl)` is that database on the proxy's port. */
export async function createDatabaseProxy(): Promise<TcpProxy & { urlFor: (databaseUrl: string) => string }> {
  const pg = new URL(PG_ADMIN_URL);
  const proxy = await createTcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
  return {
    ...proxy,
    urlFor: (databaseUrl) => {
      const url = new URL(databaseUrl);
      url.hostname = '127.0.0.1';
      url.port = String(proxy.port);
      return url.toString();
    },
  };
}
