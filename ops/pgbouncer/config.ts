import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the template ops/pgbouncer/pgbouncer.ini leaves open. */
export type PgbouncerSettings = {
  pgHost: string;
  pgPort: number;
  listenAddr: string;
  listenPort: number;
  /** Holds the pid file, the log and the unix socket. */
  runDir: string;
  authFile: string;
  authType: 'scram-sha-256' | 'md5' | 'trust';
  /** May run SHOW POOLS / SHOW SERVERS on the admin console (database `pgbouncer`). */
  adminUser: string;
  /** Server connections per (database, user). */
  poolSize: number;
  maxClientConn: number;
};

export const PGBOUNCER_TEMPLATE = join(__dirname, 'pgbouncer.ini');

/** The committed template with every placeholder filled; an unknown or unfilled placeholder is an error. */
export function renderPgbouncerIni(s: PgbouncerSettings, template = readFileSync(PGBOUNCER_TEMPLATE, 'utf8')): string {
  const values: Record<string, string> = {
    pg_host: s.pgHost,
    pg_port: String(s.pgPort),
    listen_addr: s.listenAddr,
    listen_port: String(s.listenPort),
    run_dir: s.runDir,
    auth_file: s.authFile,
    auth_type: s.authType,
    admin_user: s.adminUser,
    pool_size: String(s.poolSize),
    max_client_conn: String(s.maxClientConn),
  };
  for (const [k, v] of Object.entries(values)) {
    if (/[\s;"]/.test(v) && k !== 'run_dir' && k !== 'auth_file') throw new Error(`pgbouncer setting ${k} must be one word`);
    if (/[\n"]/.test(v)) throw new Error(`pgbouncer setting ${k} has a newline or quote`);
  }
  return template.replace(/\{\{(\w+)\}\}/g, (_m, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`pgbouncer.ini has an unknown placeholder {{${name}}}`);
    return v;
  });
}

/** auth_file lines: `"user" "password"` (plain text; PgBouncer derives SCRAM from it). Keep the file mode 0600. */
export function renderUserlist(users: Record<string, string>): string {
  return Object.entries(users)
    .map(([user, password]) => {
      if (/["\n]/.test(user) || /\n/.test(password)) throw new Error('a pgbouncer user or password has a quote or newline');
      return `"${user}" "${password.replace(/"/g, '""')}"\n`;
    })
    .join('');
}
