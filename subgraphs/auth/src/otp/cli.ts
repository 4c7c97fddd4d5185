// Reads what the development OTP simulator delivered, as a phone's owner would:
//   tsx subgraphs/auth/src/otp/cli.ts code <phone>    the newest code sent to that phone
//   tsx subgraphs/auth/src/otp/cli.ts list [phone]    every message, newest first
// OTP_SIMULATOR_URL picks the simulator (default http://127.0.0.1:4007).
const base = process.env.OTP_SIMULATOR_URL ?? 'http://127.0.0.1:4007';
const [command, phone] = process.argv.slice(2);
const usage = 'usage: cli.ts code <phone> | list [phone]';

async function get(path: string): Promise<unknown> {
  const res = await fetch(new URL(path, base), { headers: { accept: 'application/json' } });
  const text = await res.text();
  if (!res.ok) throw new Error(`${res.status}: ${text}`);
  return JSON.parse(text);
}

async function main() {
  const query = phone ? `?to=${encodeURIComponent(phone)}` : '';
  if (command === 'code' && phone) {
    const message = (await get(`/messages/latest${query}`)) as { code: string; expiresAt: string };
    console.log(`${message.code}   (expires ${message.expiresAt})`);
  } else if (command === 'list') console.log(JSON.stringify(await get(`/messages${query}`), null, 2));
  else throw new Error(usage);
}

main().catch((err: unknown) => {
  console.error(`otp cli: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
