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
  /** Cleans up after a test: SIGINT, then SIGKILL if it has not exited within 10 s. */
  stop: () => Promise<void>;
  lines: LogLine[];
  /** stdout and stderr text as printed (for failure messages). */
  output: () => string;
  /** Resolves with the exit code (or the signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits until the output (log lines and anything else printed) contains the text. */
  waitForOutput: (text: string, timeoutMs?: number) => Promise<void>;
  /** Waits for a log line that passes the check. */
  waitForLine: (check: (l: LogLine) => boolean, what: string, timeoutMs?: number) => Promise<LogLine>;
};

export function spawnProcess(command: string, args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string; detached?: boolean } = {}): Started {
  const child = spawn(command, args, { cwd: opts.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached });
  const lines: LogLine[] = [];
  let text = '';
  const waiters = new Set<() => void>();
  let done = false;
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
    for (const w of waiters) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      for (const w of waiters) w();
      resolve({ code, signal });
    });
  });
  /** Resolves with the first value `probe` returns, re-probing on every bit of output. */
  const waitUntil = <T>(probe: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}; output:\n${text.slice(-4000)}`)), timeoutMs);
      const finish = (err?: Error, value?: T): void => {
        clearTimeout(timer);
        waiters.delete(look);
        if (err) reject(err);
        else resolve(value as T);
      };
      const look = (): void => {
        const value = probe();
        if (value !== undefined) return finish(undefined, value);
        if (done) finish(new Error(`process exited before ${what}; output:\n${text.slice(-4000)}`));
      };
      waiters.add(look);
      look();
    });
  const waitForLine = (check: (l: LogLine) => boolean, what: string, timeoutMs = 60_000): Promise<LogLine> =>
    waitUntil(() => lines.find(check), what, timeoutMs);
  const waitForOutput = async (wanted: string, timeoutMs = 60_000): Promise<void> => {
    await waitUntil(() => (text.includes(wanted) ? true : undefined), `output containing ${JSON.stringify(wanted)}`, timeoutMs);
  };
  const kill = (): void => {
    if (done || child.pid === undefined) return;
    try {
      if (opts.detached) process.kill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  };
  const stop = async (): Promise<void> => {
    if (done || child.pid === undefined) return;
    child.kill('SIGINT');
    const timer = setTimeout(kill, 10_000);
    await exited;
    clearTimeout(timer);
  };
  return { child, kill, stop, lines, output: () => text, exited, waitForLine, waitForOutput };
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
