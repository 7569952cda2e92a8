/**
 * What the benches share: the forked load generator (a child process running the same file with
 * `--load-generator`, so its CPU is not charged to the server process), percentiles, and seeding a
 * merchant's payments into filled purchases through the API.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { graphqlRequest as gql, postStripePayment, type Merchant } from '../helpers/roles';
import { until } from '../helpers/wait';

export type LoadGenerator<C, R> = { send: (cmd: C) => Promise<R>; child: ChildProcess };

/** Fork `file` as the load generator; each `send` posts one command and resolves with its result. */
export function forkLoadGenerator<C, R>(file: string): LoadGenerator<C, R> {
  const child = fork(file, ['--load-generator'], { execArgv: ['-r', '@swc-node/register'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const send = (cmd: C): Promise<R> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`load generator exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (m: { ok: boolean; result?: R; error?: string }) => {
        child.off('exit', onExit);
        if (m.ok && m.result) resolve(m.result);
        else reject(new Error(m.error));
      });
      child.send(cmd as object);
    });
  return { send, child };
}

/** In the child: answer each command the parent sends with `handle`'s result (or its error). */
export function serveLoadGenerator<C, R>(handle: (cmd: C) => Promise<R>): void {
  process.on('message', (cmd: C) => {
    handle(cmd).then(
      (r) => process.send!({ ok: true, result: r }),
      (err: Error) => process.send!({ ok: false, error: err.stack ?? err.message }),
    );
  });
}

/** The p-th percentile of an ascending array (nearest rank). */
export const pct = (sorted: number[], p: number): number => sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

/**
 * POSTs `payments` signed Stripe payments (ids `evt_<tag>_<i>`) to the merchant's webhook through
 * `gateway`, then waits until `wantFilled` of its purchases are FILLED; returns how many purchases it has.
 */
export async function paymentsToPurchases(gateway: string, m: Merchant, tag: string, payments: number, wantFilled = payments): Promise<number> {
  for (let i = 0; i < payments; i++) {
    const res = await postStripePayment(gateway, m, `evt_${tag}_${i}`, 100_000 + i * 137);
    if (!res.ok) throw new Error(`payment ${i}: ${res.status} ${await res.text()}`);
  }
  return until(
    `${wantFilled} filled purchases`,
    async () => {
      const d = await gql<{ purchases: { status: string }[] }>(gateway, 'query { purchases(limit: 200) { status } }', {}, m.token);
      const filled = d.purchases.filter((p) => p.status === 'FILLED').length;
      return filled >= wantFilled ? d.purchases.length : undefined;
    },
    180_000,
  );
}
