// A stand-in for an SMS provider, for development and tests: it takes one-time codes over HTTP
// and keeps them in memory, so a test (or a developer) can read the code "delivered" to a phone.
//
//   POST /messages                {to, code, text, expiresAt}  -> 202 {id}
//   GET  /messages[?to=<phone>]   what was delivered, newest first
//   GET  /messages/latest?to=<phone>                             -> the newest message to that phone, or 404
//
// It holds codes in clear (it plays the phone), so it is never run in production: auth refuses
// OTP_PROVIDER=simulator there, and the process refuses NODE_ENV=production.
import { randomBytes } from 'node:crypto';
import { addHealthRoutes, express, instrumentHttp, listen, type HttpServer, type Logger } from '@tatkal/common';

export interface OtpSimMessage {
  id: string;
  to: string;
  code: string;
  text: string;
  expiresAt: string;
  receivedAt: string;
}

/** Messages kept at most (oldest dropped first): a long development session stays small. */
const MAX_MESSAGES = 10_000;

export function createOtpSimulator(opts: { logger?: Logger } = {}) {
  const messages: OtpSimMessage[] = [];
  const app = express();
  app.disable('x-powered-by');
  instrumentHttp(app);
  addHealthRoutes(app, async () => ({}));
  app.use(express.json({ limit: '4kb' }));

  app.post('/messages', (req, res) => {
    const { to, code, text, expiresAt } = (req.body ?? {}) as Record<string, unknown>;
    if (typeof to !== 'string' || !/^\+\d{8,15}$/.test(to) || typeof code !== 'string' || !/^\d{4,8}$/.test(code)) {
      res.status(400).json({ error: 'to (E.164) and code (digits) are required' });
      return;
    }
    const message: OtpSimMessage = {
      id: `sim_sms_${randomBytes(8).toString('hex')}`,
      to,
      code,
      text: typeof text === 'string' ? text : code,
      expiresAt: typeof expiresAt === 'string' ? expiresAt : '',
      receivedAt: new Date().toISOString(),
    };
    messages.push(message);
    if (messages.length > MAX_MESSAGES) messages.shift();
    // The number is masked and the code left out even here: logs are copied to places codes must not go.
    opts.logger?.info({ id: message.id, to: maskPhone(to) }, 'one-time code delivered (read it: GET /messages)');
    res.status(202).json({ id: message.id });
  });
  const to = (req: express.Request) => (typeof req.query.to === 'string' ? req.query.to : undefined);
  app.get('/messages', (req, res) => {
    res.json(simulator.messages(to(req)));
  });
  app.get('/messages/latest', (req, res) => {
    const phone = to(req);
    const latest = phone ? simulator.latest(phone) : undefined;
    if (!latest) res.status(404).json({ error: `no message to ${phone ?? '(give ?to=<phone>)'}` });
    else res.json(latest);
  });

  const latestTo = (phone: string) => {
    for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.to === phone) return messages[i];
    return undefined;
  };
  let http: HttpServer | null = null;
  const simulator = {
    app,
    async listen(port: number, host = '127.0.0.1'): Promise<HttpServer> {
      http = await listen(app, port, host);
      return http;
    },
    /** Every message, or those to one phone, newest first. */
    messages: (phone?: string) => messages.filter((m) => !phone || m.to === phone).reverse(),
    latest: (phone: string) => latestTo(phone),
    /** The newest code sent to a phone, if any. */
    latestCode: (phone: string) => latestTo(phone)?.code,
    async close(): Promise<void> {
      await http?.close();
    },
  };
  return simulator;
}
export type OtpSimulator = ReturnType<typeof createOtpSimulator>;

/** +919876543210 -> +91******3210: enough for a person to recognise their number. */
export const maskPhone = (phone: string) =>
  phone.length > 7 ? `${phone.slice(0, 3)}${'*'.repeat(phone.length - 7)}${phone.slice(-4)}` : '****';
