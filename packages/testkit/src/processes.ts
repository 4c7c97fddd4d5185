// Starts the project's real processes (tsx <entry>, or any command) on free ports and waits until
// they are ready; what the processes hold open, from /proc. Shared by the benchmarks (bench/) and
// by tests that need separate processes (e.g. two booking instances), so neither imports the other.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { SERVICE_NODE_OPTIONS } from '../../../scripts/nodeOptions.ts';

/** The repository's root: processes start there. */
export const root = join(import.meta.dirname, '../../..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

export interface RunningProcess {
  name: string;
  url: string;
  pid: number;
  child: ChildProcess;
  stop: () => Promise<void>;
  /**
   * kill -9 of the process and everything it started (tsx runs the service in a child process),
   * as a crash would; resolves once it has exited. Not reported as an unexpected exit.
   */
  crash: () => Promise<void>;
}

export interface StartOptions {
  port?: number;
  timeoutMs?: number;
  nodeArgs?: string[];
  /** Another program instead of `tsx <entry>` (entry is then only a label), e.g. Hive Gateway's CLI. */
  command?: string;
  args?: string[];
  /** The variable that carries the port (default PORT; the provider simulator reads PROVIDER_PORT). */
  portEnv?: string;
  /** Answers 200 once the process is ready (default /ready). */
  readyPath?: string;
  /** Each line the process writes to stdout (its pino log lines); default: stdout is discarded. */
  onStdoutLine?: (line: string) => void;
}

/** Spawns `tsx <entry>` (or opts.command) with env (port chosen here) and resolves once GET readyPath answers 200. */
export async function startProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
  opts: StartOptions = {},
): Promise<RunningProcess> {
  const port = opts.port ?? (await freePort());
  const command = opts.command ?? join(root, 'node_modules/.bin/tsx');
  const child = spawn(command, opts.command ? (opts.args ?? []) : [...(opts.nodeArgs ?? []), entry], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'test',
      // The services' own V8 flags (scripts/nodeOptions.ts), or BENCH_NODE_OPTIONS instead to try others.
      NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? SERVICE_NODE_OPTIONS,
      ...env,
      [opts.portEnv ?? 'PORT']: String(port),
    },
    stdio: ['ignore', opts.onStdoutLine ? 'pipe' : 'ignore', 'pipe'],
  });
  if (opts.onStdoutLine) {
    let partial = '';
    child.stdout!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) if (line) opts.onStdoutLine!(line);
    });
  }
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}): ${stderr.trim()}`);
    try {
      if ((await fetch(`${url}${opts.readyPath ?? '/ready'}`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} not ready at ${url} in time: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  // A service that dies mid-run says why: its errors would otherwise only show as failed requests.
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`${name} exited during the run (${signal ?? code}): ${stderr.trim()}`);
  });
  let stopping = false;
  return {
    name,
    url,
    pid: child.pid!,
    child,
    crash: () => {
      stopping = true;
      const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('exit', () => resolve());
      });
      const descendants = (pid: number): number[] => childrenOf(pid).flatMap((c) => [...descendants(c), c]);
      for (const pid of [...descendants(child.pid!), child.pid!]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      return exited;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

/** The child processes of `pid`, from /proc. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Local TCP ports of the sockets these processes (and their children) hold open, from /proc. */
export function localPortsOf(pids: number[]): Set<number> {
  const inodes = new Set<string>();
  for (const pid of pids.flatMap((p) => [p, ...childrenOf(p).flatMap((c) => [c, ...childrenOf(c)])])) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited
    }
    for (const fd of fds) {
      try {
        const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (socket) inodes.add(socket[1]!);
      } catch {
        /* closed meanwhile */
      }
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let lines: string[] = [];
    try {
      lines = readFileSync(table, 'utf8').split('\n').slice(1);
    } catch {
      continue;
    }
    for (const line of lines) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && inodes.has(f[9]!)) ports.add(parseInt(f[1]!.split(':').pop()!, 16));
    }
  }
  return ports;
}
