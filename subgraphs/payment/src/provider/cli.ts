// Drives the provider simulator from a terminal, as a traveller or the provider's dashboard would:
//   tsx subgraphs/payment/src/provider/cli.ts succeed <providerRef>
//   tsx subgraphs/payment/src/provider/cli.ts fail <providerRef>
//   tsx subgraphs/payment/src/provider/cli.ts refund <providerRef> [amountPaise]
//   tsx subgraphs/payment/src/provider/cli.ts show <providerRef>
//   tsx subgraphs/payment/src/provider/cli.ts list
// PROVIDER_URL picks the simulator (default http://127.0.0.1:4006).
const base = process.env.PROVIDER_URL ?? 'http://127.0.0.1:4006';
const [command, ref, amount] = process.argv.slice(2);

const usage = 'usage: cli.ts succeed|fail|show <providerRef> | refund <providerRef> [amountPaise] | list';

async function call(method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await fetch(new URL(path, base), {
    method,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${res.status}: ${text}`);
  console.log(JSON.stringify(JSON.parse(text), null, 2));
}

async function main() {
  const needsRef = ['succeed', 'fail', 'refund', 'show'];
  if (!command || (needsRef.includes(command) && !ref)) throw new Error(usage);
  const path = encodeURIComponent(ref ?? '');
  switch (command) {
    case 'succeed':
    case 'fail':
      return call('POST', `/payments/${path}/${command}`);
    case 'refund':
      return call('POST', '/refunds', {
        payment: ref,
        ...(amount ? { amountPaise: Number(amount) } : {}),
        reason: 'cli',
      });
    case 'show':
      return call('GET', `/payments/${path}`);
    case 'list':
      return call('GET', '/payments');
    default:
      throw new Error(usage);
  }
}

main().catch((err: unknown) => {
  console.error(`provider cli: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
