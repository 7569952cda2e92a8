import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

export type LogLine = { msg?: string; level?: number; [k: string]: unknown };

/** A platform process started the way an operator starts it, with its log lines collected. */
export type Started = {
  child: ChildProcess;
  /** SIGKILLs it (its whole process group when detached), if still running. */
  kill: () => void;
  lines: LogLine[];
  /** stdout and stderr text as printed (for failure messages). */
  output: () => string;
  /** Resolves with the exit code (or the signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits for a log line that passes the check. */
  waitForLine: (check: (l: LogLine) => boolean, what: string, timeoutMs?: number) => Promise<LogLine>;
};

export function spawnProcess(command: string, args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string; detached?: boolean } = {}): Started {
  const child = spawn(command, args, { cwd: opts.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached });
  const lines: LogLine[] = [];
  let text = '';
  const waiters = new Set<() => void>();
  let partial = '';
  const echo = process.env.TEST_LOG_LEVEL ? (d: Buffer) => process.stderr.write(d) : undefined;
  child.stdout?.on('data', (d: Buffer) => {
    echo?.(d);
    text += d.toString();
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as LogLine);
      } catch {
        // Not a log line (the start banner).
      }
    }
    for (const w of waiters) w();
  });
  child.stderr?.on('data', (d: Buffer) => {
    echo?.(d);
    text += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const w of waiters) w();
      resolve({ code, signal });
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  const waitForLine = (check: (l: LogLine) => boolean, what: string, timeoutMs = 60_000): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}; output:\n${text.slice(-4000)}`)), timeoutMs);
      const finish = (err?: Error, line?: LogLine): void => {
        clearTimeout(timer);
        waiters.delete(look);
        if (err) reject(err);
        else resolve(line!);
      };
      const look = (): void => {
        const line = lines.find(check);
        if (line) return finish(undefined, line);
        if (done) finish(new Error(`process exited before ${what}; output:\n${text.slice(-4000)}`));
      };
      waiters.add(look);
      look();
    });
  const kill = (): void => {
    if (done || child.pid === undefined) return;
    try {
      if (opts.detached) process.kill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  };
  return { child, kill, lines, output: () => text, exited, waitForLine };
}

/** `node ops/start.ts [role]`, as `npm start` / `npm run start:<role>` run it. */
export function spawnStart(role: string | undefined, env: NodeJS.ProcessEnv): Started {
  return spawnProcess(process.execPath, ['-r', '@swc-node/register', 'ops/start.ts', ...(role ? [role] : [])], env);
}

/** True when something accepts TCP connections on the port. */
export function isListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The ports a started process logged it listens on (subgraphs, gateway, workers). */
export function listeningPorts(lines: LogLine[]): number[] {
  return lines
    .filter((l) => l.msg === 'subgraph listening' || l.msg === 'gateway listening' || l.msg === 'workers running')
    .map((l) => Number(new URL(String(l.url)).port));
}
