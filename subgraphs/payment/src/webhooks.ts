// The REST sidecar the payment provider calls. This first version only answers health checks;
// POST /webhooks/payments (signature check, event store, outbox) comes with the payment flow.
import { addHealthRoutes, express, listen, type HttpServer, type ReadinessCheck } from '@tatkal/common';

export async function serveWebhooks(opts: { port: number; ready: ReadinessCheck }): Promise<HttpServer> {
  const app = express();
  app.disable('x-powered-by');
  addHealthRoutes(app, opts.ready);
  return listen(app, opts.port);
}
