// Migrations over TLS: a PostgreSQL of its own (initdb in a temp dir, a certificate from a CA made
// here, pg_hba with `hostssl` only, on a free port), then the migrate Job's and the migrations
// gate's commands (scripts/prisma.mjs migrate-deploy, migrate-status) with
// `?sslmode=require&sslrootcert=...` in DATABASE_URL: prisma/migrate.config.ts must pass the query
// string on (it used to rebuild the URL from host, port, database, user and password only).
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../packages/testkit/src/processes.ts';
import { connection } from '../prisma/migrate.config.ts';

const root = join(import.meta.dirname, '..');
const pgBin = (() => {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error('no PostgreSQL server binaries in /usr/lib/postgresql/*/bin');
  return join('/usr/lib/postgresql', versions[0]!, 'bin');
})();
// initdb and postgres refuse to run as root: as root (CI), run them as the postgres user.
const asRoot = process.getuid?.() === 0;
const pgUser = asRoot ? Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()) : undefined;

function run(command: string, args: string[]): void {
  const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  const res = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 60_000 });
  if (res.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${res.stdout}${res.stderr}`);
}

let dir: string;
let port: number;
let started = false;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tatkal-tls-pg-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=tatkal-test-ca', '-days', '2');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  );
  if (pgUser !== undefined) {
    for (const f of ['', 'server.key', 'server.crt']) chownSync(join(dir, f), pgUser, pgUser);
  }
  execFileSync('chmod', ['600', join(dir, 'server.key')]);
  const data = join(dir, 'data');
  run(join(pgBin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  port = await freePort();
  writeFileSync(
    join(data, 'postgresql.auto.conf'),
    [
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      'ssl = on',
      `ssl_cert_file = '${join(dir, 'server.crt')}'`,
      `ssl_key_file = '${join(dir, 'server.key')}'`,
      'fsync = off',
    ].join('\n'),
  );
  // TCP only with TLS: a plain connection finds no pg_hba entry.
  writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhostssl all all 127.0.0.1/32 trust\n');
  if (pgUser !== undefined) {
    for (const f of ['postgresql.auto.conf', 'pg_hba.conf']) chownSync(join(data, f), pgUser, pgUser);
  }
  run(join(pgBin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  started = true;
  const admin = new pg.Client({ ...connection(urlTo('postgres')) });
  await admin.connect();
  await admin.query('CREATE DATABASE tatkal_tls');
  await admin.end();
}, 120_000);

afterAll(() => {
  if (started) run(join(pgBin, 'pg_ctl'), ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A URL to this server's database, TLS required and the server's certificate checked against the CA. */
function urlTo(database: string): string {
  const ca = encodeURIComponent(join(dir, 'ca.crt'));
  return `postgresql://postgres@127.0.0.1:${port}/${database}?sslmode=require&sslrootcert=${ca}`;
}

function prismaScript(command: string, databaseUrl: string) {
  return spawnSync(process.execPath, [join(root, 'scripts/prisma.mjs'), command], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: tmpdir(), DATABASE_URL: databaseUrl },
    encoding: 'utf8',
    timeout: 180_000,
  });
}

describe('migrations against a PostgreSQL that requires TLS', () => {
  it('refuses a connection without TLS (the server really requires it)', async () => {
    const plain = new pg.Client({ connectionString: `postgresql://postgres@127.0.0.1:${port}/tatkal_tls` });
    await expect(plain.connect()).rejects.toThrow(/no pg_hba.conf entry|no encryption/);
  });

  it('keeps the query string: TLS and the CA of DATABASE_URL reach the migration adapter', () => {
    const config = connection(urlTo('tatkal_tls'));
    expect(config).toMatchObject({ host: '127.0.0.1', port, database: 'tatkal_tls', user: 'postgres' });
    expect(config.ssl).toMatchObject({ ca: expect.stringContaining('BEGIN CERTIFICATE') });
  });

  it('applies every migration with ?sslmode=require, and the migrations gate then passes', async () => {
    const deploy = prismaScript('migrate-deploy', urlTo('tatkal_tls'));
    expect(deploy.status, deploy.stdout + deploy.stderr).toBe(0);
    const client = new pg.Client({ ...connection(urlTo('tatkal_tls')) });
    await client.connect();
    try {
      const { rows } = await client.query(
        'SELECT count(*)::int AS applied FROM _prisma_migrations WHERE finished_at IS NOT NULL',
      );
      const migrations = readdirSync(join(root, 'prisma/migrations')).filter((d) =>
        statSync(join(root, 'prisma/migrations', d)).isDirectory(),
      );
      expect(rows[0].applied).toBe(migrations.length);
      const ssl = await client.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      expect(ssl.rows[0].ssl).toBe(true);
    } finally {
      await client.end();
    }
    const status = prismaScript('migrate-status', urlTo('tatkal_tls'));
    expect(status.status, status.stdout + status.stderr).toBe(0);
  }, 240_000);
});
