import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';

/**
 * Failed-attempt counters in PostgreSQL (so single-node mode needs no Redis), keyed by a hash of
 * the account (and of ip+account). Every attempt is charged *before* the password is checked, in
 * one atomic upsert, so N parallel guesses cannot slip past the limit; a success clears the counters.
 * Unknown and known emails are counted alike: locking reveals nothing about which accounts exist.
 */
export type ThrottleRule = { threshold: number; baseLockS: number; maxLockS: number };

export const THROTTLE_RULES = {
  /** Same address, same account: credential stuffing and guessing from one place. */
  ipAccount: { threshold: 5, baseLockS: 30, maxLockS: 30 * 60 },
  /** The account from anywhere: distributed guessing, with a higher bar so one attacker cannot lock a user out cheaply. */
  account: { threshold: 10, baseLockS: 60, maxLockS: 30 * 60 },
  /** Second-factor codes for one user. */
  mfa: { threshold: 5, baseLockS: 30, maxLockS: 30 * 60 },
} as const satisfies Record<string, ThrottleRule>;

/** Failures older than this are forgotten. */
const WINDOW = '1 hour';

export const throttleKey = (kind: string, ...parts: string[]): string =>
  `${kind}:${createHash('sha256').update(parts.join('\u0000')).digest('hex')}`;

export type Charge = { key: string; rule: ThrottleRule; failures: number; lockedUntil: Date | null };

/** Lock for base · 2^(failures − threshold), capped. */
export const lockSeconds = (rule: ThrottleRule, failures: number): number =>
  Math.min(rule.maxLockS, rule.baseLockS * 2 ** Math.max(0, Math.min(20, failures - rule.threshold)));

export class LoginThrottle {
  constructor(private readonly orm: MikroORM) {}

  private execute<T>(sql: string, params: unknown[]): Promise<T> {
    return this.orm.em.fork().getConnection().execute(sql, params) as Promise<T>;
  }

  /**
   * Counts one attempt against each key. Returns the seconds until retry when any key is (or
   * thereby becomes) locked, else 0. While locked, attempts are refused and not counted.
   */
  async charge(keys: { key: string; rule: ThrottleRule }[]): Promise<{ retryAfterS: number; newlyLocked: boolean; charges: Charge[] }> {
    let retryAfterS = 0;
    let newlyLocked = false;
    const charges: Charge[] = [];
    for (const { key, rule } of keys) {
      const [row] = await this.execute<{ failures: number; locked_until: Date | null; was_locked: boolean; locked_at: number }[]>(
        `insert into public.login_throttle as t (key, failures, last_failure_at) values (?, 1, now())
         on conflict (key) do update set
           failures = case when t.locked_until > now() then t.failures
                           when t.last_failure_at < now() - interval '${WINDOW}' then 1
                           else t.failures + 1 end,
           locked_at_failures = case when t.locked_until <= now() and t.last_failure_at < now() - interval '${WINDOW}' then 0
                                     else t.locked_at_failures end,
           last_failure_at = case when t.locked_until > now() then t.last_failure_at else now() end
         returning failures, locked_until, coalesce(locked_until > now(), false) as was_locked, locked_at_failures as locked_at`,
        [key],
      );
      // An upsert with RETURNING always yields its row.
      if (!row) throw new Error('login throttle upsert returned no row');
      const c: Charge = { key, rule, failures: row.failures, lockedUntil: row.locked_until };
      charges.push(c);
      if (row.was_locked && row.locked_until) {
        retryAfterS = Math.max(retryAfterS, Math.ceil((new Date(row.locked_until).getTime() - Date.now()) / 1000));
      } else if (row.failures > Math.max(rule.threshold, row.locked_at + 1)) {
        // Past the allowance (the threshold, then one try after each expired lock), e.g. parallel
        // attempts: refused and locked without checking the password.
        retryAfterS = Math.max(retryAfterS, await this.lock(key, rule, row.failures));
        newlyLocked = true;
      }
    }
    return { retryAfterS, newlyLocked, charges };
  }

  /** After a failed check: locks every key whose count reached its threshold. Returns the longest lock (s), 0 if none. */
  async failed(charges: Charge[]): Promise<number> {
    let longest = 0;
    for (const c of charges) if (c.failures >= c.rule.threshold) longest = Math.max(longest, await this.lock(c.key, c.rule, c.failures));
    return longest;
  }

  /** After a success: the counters start again. */
  async succeeded(charges: Charge[]): Promise<void> {
    if (charges.length === 0) return;
    await this.execute(`delete from public.login_throttle where key in (${charges.map(() => '?').join(', ')})`, charges.map((c) => c.key));
  }

  private async lock(key: string, rule: ThrottleRule, failures: number): Promise<number> {
    const seconds = lockSeconds(rule, failures);
    await this.execute(
      `update public.login_throttle
          set locked_until = greatest(coalesce(locked_until, now()), now() + make_interval(secs => ?)),
              locked_at_failures = greatest(locked_at_failures, ?)
        where key = ?`,
      [seconds, failures, key],
    );
    return seconds;
  }
}
