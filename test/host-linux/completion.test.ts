// Completions (kernel/sched/completion.ts) through the exported API, as a module sees
// them: a waiter sleeps until complete(); complete() wakes one waiter, complete_all()
// all of them for good; events are counted; timeouts in jiffies; signals.

import { describe, expect, it } from "vitest";
import { MachineStopped } from "../../machine/engine.js";
import { completion } from "../../host-linux/include/linux/completion_types.js";
import { spinlock_t } from "../../host-linux/include/linux/lock_types.js";
import { TASK_UNINTERRUPTIBLE } from "../../host-linux/include/linux/sched.js";
import { ERESTARTSYS } from "../../host-linux/include/linux/errno.js";
import { get_current } from "../../host-linux/arch/x86/kernel/percpu.js";
import { TSC_KHZ } from "../../host-linux/arch/x86/kernel/tsc.js";
import { KernelPanic } from "../../host-linux/kernel/panic.js";
import type { linux_kernel } from "../../host-linux/init/main.js";
import { boot, run_kernel } from "./helpers.js";

function new_completion(k: linux_kernel): completion {
  const x = new completion();
  k.api.init_completion(x);
  return x;
}

/** Let the other threads run until `cond` holds. */
async function until(k: linux_kernel, cond: () => boolean): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 10_000) throw new Error("condition never became true");
    await k.machine.cpu_yield(1000);
    await k.api.cond_resched();
  }
}

const state_of = (k: linux_kernel, comm: string): number | undefined => [...k.pids.values()].find((t) => t.comm === comm)?.state;

describe("completions on host-linux", () => {
  for (const ncpus of [1, 2]) {
    it(`a waiter sleeps (TASK_UNINTERRUPTIBLE) until complete(); ${ncpus} CPU(s)`, async () => {
      const log: string[] = [];
      await run_kernel(async (k) => {
        const x = new_completion(k);
        k.kthread_run(async () => {
          log.push("wait");
          await k.api.wait_for_completion(x);
          log.push("woken");
          return 0;
        }, "waiter");
        await until(k, () => state_of(k, "waiter") === TASK_UNINTERRUPTIBLE);
        await k.machine.cpu_yield(50_000);
        log.push(`still asleep: ${state_of(k, "waiter") === TASK_UNINTERRUPTIBLE}`);
        log.push("complete");
        k.api.complete(x);
        await until(k, () => log.includes("woken"));
        log.push(`done: ${k.api.completion_done(x)}`);
      }, { ncpus });
      expect(log).toEqual(["wait", "still asleep: true", "complete", "woken", "done: false"]);
    });
  }

  it("complete() wakes exactly one waiter, in FIFO order; complete_all() wakes every one, for good", async () => {
    const woken: string[] = [];
    const { result } = await run_kernel(async (k) => {
      const x = new_completion(k);
      for (const name of ["w0", "w1", "w2"]) {
        k.kthread_run(async () => {
          await k.api.wait_for_completion(x);
          woken.push(name);
          return 0;
        }, name);
        await until(k, () => state_of(k, name) === TASK_UNINTERRUPTIBLE);
      }
      k.api.complete(x);
      await until(k, () => woken.length === 1);
      await k.machine.cpu_yield(50_000);
      const after_one = [...woken];
      k.api.complete_all(x);
      await until(k, () => woken.length === 3);
      // Done for good: waits and trylocks go through until reinit_completion.
      await k.api.wait_for_completion(x);
      const r = { after_one, tries: [k.api.try_wait_for_completion(x), k.api.try_wait_for_completion(x)], done: k.api.completion_done(x) };
      k.api.reinit_completion(x);
      return { ...r, after_reinit: [k.api.completion_done(x), k.api.try_wait_for_completion(x)] };
    }, { ncpus: 2 });
    expect(result).toEqual({ after_one: ["w0"], tries: [true, true], done: true, after_reinit: [false, false] });
    expect(woken).toEqual(["w0", "w1", "w2"]);
  });

  it("events are counted: n complete() let n waits through without sleeping, then try_wait fails", async () => {
    const { result } = await run_kernel(async (k) => {
      const x = new_completion(k);
      const first = [k.api.completion_done(x), k.api.try_wait_for_completion(x)];
      for (let i = 0; i < 3; i++) k.api.complete(x);
      const me = get_current(k);
      const switches = k.percpu[0].rq.nr_switches;
      await k.api.wait_for_completion(x);
      const left = await k.api.wait_for_completion_timeout(x, 10);
      const tries = [k.api.try_wait_for_completion(x), k.api.try_wait_for_completion(x)];
      return { first, left, tries, slept: k.percpu[0].rq.nr_switches !== switches, state: me.state };
    });
    // An event already there: the full timeout is left.
    expect(result).toEqual({ first: [false, false], left: 10, tries: [true, false], slept: false, state: 0 });
  });

  it("wait_for_completion_timeout: 0 after the timeout (in jiffies of HZ); the jiffies left when completed in time", async () => {
    for (const hz of [1000, 250]) {
      const { result } = await run_kernel(async (k) => {
        const x = new_completion(k);
        const j = k.api.msecs_to_jiffies(20);
        const tsc = () => k.machine.cpus[0].tsc;
        const t0 = tsc();
        const expired = await k.api.wait_for_completion_timeout(x, j);
        const waited_ms = (tsc() - t0) / TSC_KHZ;
        k.kthread_run(async () => {
          await k.machine.cpu_yield(5 * TSC_KHZ); // 5 ms
          k.api.complete(x);
          return 0;
        }, "completer");
        const left = await k.api.wait_for_completion_timeout(x, j);
        return { j, expired, waited_ms, left };
      }, { hz, ncpus: 2 });
      expect(result.j).toBe((20 * hz) / 1000);
      expect(result.expired).toBe(0);
      expect(result.waited_ms).toBeGreaterThanOrEqual(20);
      expect(result.waited_ms).toBeLessThan(20 + 2000 / hz + 1);
      expect(result.left).toBeGreaterThan(0);
      expect(result.left).toBeLessThan(result.j);
    }
  });

  it("wait_for_completion_interruptible returns -ERESTARTSYS on a signal, and the event stays for the next waiter", async () => {
    const { result } = await run_kernel(async (k) => {
      const x = new_completion(k);
      let ret = 1;
      const pid = k.kthread_run(async () => {
        get_current(k).flags &= ~0x00200000; // allow_signal: a kthread that takes signals
        ret = await k.api.wait_for_completion_interruptible(x);
        return 0;
      }, "sig");
      await until(k, () => (state_of(k, "sig") ?? 0) === 1);
      k.kill(pid, 10);
      await until(k, () => ret !== 1);
      k.api.complete(x);
      return { ret, done: k.api.completion_done(x) };
    }, { ncpus: 2 });
    expect(result).toEqual({ ret: -ERESTARTSYS, done: true });
  });

  it("waiting in atomic context is a sleeping function called from invalid context, even when done", async () => {
    const b = boot();
    b.k.start(async () => {
      const x = new_completion(b.k);
      b.k.api.complete(x);
      const l = new spinlock_t();
      b.k.api.spin_lock_init(l, "l");
      await b.k.api.spin_lock(l);
      await b.k.api.wait_for_completion(x);
    });
    const err = await b.machine.run().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(MachineStopped);
    expect(((err as MachineStopped).reason as KernelPanic).message).toMatch(/^BUG: sleeping function called from invalid context at kernel\/sched\/completion.c:wait_for_completion\n/);
  });

  it("a completion used before init_completion is a BUG", async () => {
    const b = boot();
    b.k.start(async () => b.k.api.complete(new completion()));
    const err = await b.machine.run().then(() => null, (e: unknown) => e);
    expect(((err as MachineStopped).reason as KernelPanic).message).toBe("BUG: completion used before init_completion");
  });
});
