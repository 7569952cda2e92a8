import type { MikroORM } from '@mikro-orm/postgresql';
import { log } from '../logger';

/** Where a read went (for tests and metrics). */
export type ReadTarget = 'replica' | 'primary';

export type ReadRouterOptions = {
  /** A read goes to the replica only when it is at most this far behind the primary. */
  maxLagMs: number;
  /** How long a lag measurement is reused (ms): one probe per interval, not per read. */
  probeEveryMs?: number;
};

/**
 * Optional read routing to a streaming replica (DATABASE_REPLICA_URL). Only reads that say so
 * (`read(fn)`) may go there, and only while the replica's lag is within `maxLagMs`; otherwise, or
 * if the replica cannot be reached, they run on the primary. Read-your-own-writes paths pass
 * `{ afterWrite: true }` (or do not use the router): they always read the primary. Without a
 * replica every read runs on the primary, as before.
 */
export class ReadRouter {
  private probed: { at: number; fresh: boolean } | undefined;
  constructor(
    private readonly primary: MikroORM,
    private readonly replica: MikroORM | undefined,
    private readonly opts: ReadRouterOptions,
  ) {}

  /**
   * Lag in ms: 0 when the replica has replayed everything the primary has written (an idle primary
   * is not "lagging"), else the age of the last replayed transaction; undefined when unreachable.
   */
  async lagMs(): Promise<number | undefined> {
    if (!this.replica) return undefined;
    try {
      const [p] = await this.primary.em.fork().getConnection().execute<{ lsn: string }[]>(`select pg_current_wal_lsn()::text as lsn`);
      const [r] = await this.replica.em
        .fork()
        .getConnection()
        .execute<{ caught_up: boolean; age_ms: number | null; standby: boolean }[]>(
          `select pg_is_in_recovery() as standby,
                  coalesce(pg_last_wal_replay_lsn() >= ?::pg_lsn, false) as caught_up,
                  (extract(epoch from now() - pg_last_xact_replay_timestamp()) * 1000)::float8 as age_ms`,
          [p?.lsn ?? '0/0'],
        );
      if (!r?.standby) return undefined;
      if (r.caught_up) return 0;
      return r.age_ms ?? Number.POSITIVE_INFINITY;
    } catch (err) {
      log().debug({ err: (err as Error).message }, 'replica unreachable: reads go to the primary');
      return undefined;
    }
  }

  /** Which database a read-only query would use now. */
  async target(opts: { afterWrite?: boolean } = {}): Promise<ReadTarget> {
    if (!this.replica || opts.afterWrite) return 'primary';
    const now = Date.now();
    if (!this.probed || now - this.probed.at >= (this.opts.probeEveryMs ?? 1000)) {
      const lag = await this.lagMs();
      this.probed = { at: now, fresh: lag !== undefined && lag <= this.opts.maxLagMs };
    }
    return this.probed.fresh ? 'replica' : 'primary';
  }

  /**
   * Runs a read-only unit of work on the replica's ORM when fresh, else on the primary's (a write
   * there fails: a standby is read-only). A replica that fails mid-read (stopped, connection lost)
   * is retried once on the primary.
   */
  async read<T>(fn: (orm: MikroORM, target: ReadTarget) => Promise<T>, opts: { afterWrite?: boolean } = {}): Promise<T> {
    const target = await this.target(opts);
    if (target === 'primary' || !this.replica) return fn(this.primary, 'primary');
    try {
      return await fn(this.replica, 'replica');
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      this.probed = { at: Date.now(), fresh: false };
      return fn(this.primary, 'primary');
    }
  }
}

/** The connection failed (refused, terminated, the server shut down), not the query. */
function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', '57P01', '57P02', '57P03', '08006', '08001', '08003'].includes(e.code ?? '') ||
    /terminat|connection|ECONNREFUSED|Knex: Timeout/i.test(e.message ?? '')
  );
}

/** DATABASE_REPLICA_URL and REPLICA_MAX_LAG_MS (default 5 s) from the environment; undefined when unset. */
export function replicaSettings(env: NodeJS.ProcessEnv = process.env): { url: string; maxLagMs: number } | undefined {
  const url = env.DATABASE_REPLICA_URL;
  if (!url) return undefined;
  const lag = Number(env.REPLICA_MAX_LAG_MS ?? 5000);
  if (!Number.isFinite(lag) || lag < 0) throw new Error('REPLICA_MAX_LAG_MS must be a non-negative number of milliseconds');
  return { url, maxLagMs: lag };
}
