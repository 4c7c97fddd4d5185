// `npm test`: the whole suite (unit, integration against the real services, end to end).
// Says in one line how to start a service that is down instead of failing test by test.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { checkServices } from './services.ts';

const root = join(import.meta.dirname, '..');
const down = await checkServices({
  postgres: process.env.TEST_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
  redis: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  amqp: process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
});
if (down.length) {
  for (const line of down) console.error(`test: ${line}`);
  process.exit(1);
}
const vitest = spawn(join(root, 'node_modules/.bin/vitest'), ['run', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
vitest.on('exit', (code) => process.exit(code ?? 1));
