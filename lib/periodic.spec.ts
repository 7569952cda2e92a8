import { PeriodicTask } from './periodic';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls instead of sleeping a fixed time: a loaded CI machine may run fewer passes in 150 ms. */
async function until(done: () => boolean, budgetMs = 10_000): Promise<void> {
  const deadline = Date.now() + budgetMs;
  while (!done() && Date.now() < deadline) await sleep(5);
}

describe('PeriodicTask', () => {
  it('runs passes one after another, never overlapping, and keeps going after a failed pass', async () => {
    let active = 0;
    let maxActive = 0;
    let passes = 0;
    const task = new PeriodicTask('test-task', 5, async () => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      passes += 1;
      await sleep(15);
      active -= 1;
      if (passes === 1) throw new Error('first pass fails');
    });
    task.start(0);
    await until(() => passes >= 3);
    await task.stop();
    expect(passes).toBeGreaterThanOrEqual(3);
    expect(maxActive).toBe(1);
  });

  it('stop() waits for the running pass and schedules no other', async () => {
    let finished = 0;
    let started = 0;
    const task = new PeriodicTask('test-task', 5, async () => {
      started += 1;
      await sleep(40);
      finished += 1;
    });
    task.start(0);
    await sleep(10);
    await task.stop();
    expect(finished).toBe(started);
    const after = started;
    await sleep(50);
    expect(started).toBe(after);
  });
});
