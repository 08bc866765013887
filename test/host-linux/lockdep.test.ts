// lockdep (kernel/locking/lockdep.ts): lock-order reports as Linux prints them, made
// when an order is first seen whether or not the threads ever deadlock; once only; and
// nothing at all for code that keeps one order.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { MachineStopped } from "../../machine/engine.js";
import { mutex, spinlock_t } from "../../host-linux/include/linux/lock_types.js";
import { mutex_trylock } from "../../host-linux/kernel/locking/mutex.js";
import { set_cpus_allowed_ptr } from "../../host-linux/kernel/sched/core.js";
import { get_current } from "../../host-linux/arch/x86/kernel/percpu.js";
import type { linux_kernel } from "../../host-linux/init/main.js";
import { boot, run_kernel, spawn_all } from "./helpers.js";

function mutexes(k: linux_kernel, ...names: string[]): mutex[] {
  return names.map((n) => {
    const m = new mutex();
    k.api.mutex_init(m, n);
    return m;
  });
}

/** The lines of the log, without level and timestamp. */
const lines = (k: linux_kernel): string[] => k.dmesg().split("\n").map((l) => l.replace(/^<\d>\[[ \d.]+\] /, ""));
const reports = (k: linux_kernel): string[] => lines(k).filter((l) => /^WARNING: |^BUG: /.test(l));

/** Two threads on two CPUs: one takes A then B, the other B then A, `rounds` times,
 *  each holding its first lock for a while (cpu_yield: the other CPU runs meanwhile). */
async function abba(seed: number, rounds: number, hold: number) {
  const b = boot({ ncpus: 2, seed });
  const done: string[] = [];
  b.k.start(async () => {
    const k = b.k;
    const [A, B] = mutexes(k, "&A", "&B");
    const order = (name: string, first: mutex, second: mutex) => [name, async () => {
      for (let i = 0; i < rounds; i++) {
        await k.api.mutex_lock(first);
        await k.machine.cpu_yield(hold);
        await k.api.mutex_lock(second);
        k.api.mutex_unlock(second);
        k.api.mutex_unlock(first);
        await k.api.cond_resched();
      }
      done.push(name);
    }] as [string, () => Promise<void>];
    await spawn_all(k, [order("ab", A, B), order("ba", B, A)]);
  });
  await b.machine.run();
  return { k: b.k, done };
}

describe("lockdep: circular dependencies", () => {
  it("ABBA on two CPUs is reported with its chain, on a seed where the threads never deadlock", async () => {
    const { k, done } = await abba(1, 1, 0);
    // No deadlock happened: both threads finished.
    expect(done.sort()).toEqual(["ab", "ba"]);
    // Seed 5 interleaves them into the real deadlock (both threads asleep for good);
    // the report is the same.
    const dead = await abba(5, 1, 0);
    expect(dead.done).toEqual([]);
    expect(reports(dead.k)).toEqual(["WARNING: possible circular locking dependency detected"]);
    const log = lines(k);
    const at = log.indexOf("WARNING: possible circular locking dependency detected");
    expect(at).toBeGreaterThan(0);
    // Whichever thread took the second order reports; the other recorded the first.
    const who = /^(ab|ba)\/(\d+) is trying to acquire lock:$/.exec(log[at + 3]);
    expect(who).not.toBeNull();
    const [me, other] = who![1] === "ba" ? ["ba", "ab"] : ["ab", "ba"];
    const [held, want] = me === "ba" ? ["&B", "&A"] : ["&A", "&B"];
    const other_pid = [...k.pids.values()].find((t) => t.comm === other)?.pid ?? Number(who![2]) + (other === "ab" ? -1 : 1);
    expect(log.slice(at - 2, at + 38)).toEqual([
      "",
      "======================================================",
      "WARNING: possible circular locking dependency detected",
      "2.6.22-lkvm #1 Not tainted",
      "------------------------------------------------------",
      `${me}/${who![2]} is trying to acquire lock:`,
      `(${want}), at: mutex_lock`,
      "",
      "but task is already holding lock:",
      `(${held}), at: mutex_lock`,
      "",
      "which lock already depends on the new lock.",
      "",
      "",
      "the existing dependency chain (in reverse order) is:",
      "",
      `-> #1 (${held}):`,
      `       mutex_lock (${other}/${other_pid})`,
      "",
      `-> #0 (${want}):`,
      `       mutex_lock (${me}/${who![2]})`,
      "",
      "other info that might help us debug this:",
      "",
      " Possible unsafe locking scenario:",
      "",
      "       CPU0                    CPU1",
      "       ----                    ----",
      `  lock(${held});`,
      `                               lock(${want});`,
      `                               lock(${held});`,
      `  lock(${want});`,
      "",
      " *** DEADLOCK ***",
      "",
      `1 lock held by ${me}/${who![2]}:`,
      ` #0: (${held}), at: mutex_lock`,
      "",
      "stack backtrace:",
      expect.stringMatching(new RegExp(`^CPU: [01] PID: ${who![2]} Comm: ${me} 2\\.6\\.22-lkvm #1 Not tainted$`)),
    ]);
    expect(k.debug_locks).toBe(false);
  });

  it("on any seed the inversion is reported before the threads can deadlock on it", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 50_000 }), async (seed, hold) => {
        const { k } = await abba(seed, 3, hold);
        expect(reports(k)).toEqual(["WARNING: possible circular locking dependency detected"]);
      }),
      { numRuns: 15 },
    );
  });

  it("a longer cycle names the chain (Chain exists of: A --> B --> C)", async () => {
    const { k } = await run_kernel(async (k) => {
      const [A, B, C] = mutexes(k, "A", "B", "C");
      await spawn_all(k, [["ab", async () => {
        await k.api.mutex_lock(A);
        await k.api.mutex_lock(B);
        k.api.mutex_unlock(B);
        k.api.mutex_unlock(A);
      }]]);
      await spawn_all(k, [["bc", async () => {
        await k.api.mutex_lock(B);
        await k.api.mutex_lock(C);
        k.api.mutex_unlock(C);
        k.api.mutex_unlock(B);
      }]]);
      await k.api.mutex_lock(C);
      await k.api.mutex_lock(A);
      k.api.mutex_unlock(A);
      k.api.mutex_unlock(C);
    });
    const log = lines(k);
    const at = log.indexOf("the existing dependency chain (in reverse order) is:");
    expect(log.slice(at, at + 40).filter((l) => l !== "")).toEqual([
      "the existing dependency chain (in reverse order) is:",
      "-> #2 (C):",
      expect.stringMatching(/^ {7}mutex_lock \(bc\/\d+\)$/),
      "-> #1 (B):",
      expect.stringMatching(/^ {7}mutex_lock \(ab\/\d+\)$/),
      "-> #0 (A):",
      "       mutex_lock (init/1)",
      "other info that might help us debug this:",
      "Chain exists of:",
      "  A --> B --> C",
      " Possible unsafe locking scenario:",
      "       CPU0                    CPU1",
      "       ----                    ----",
      "  lock(C);",
      "                               lock(B);",
      "                               lock(C);",
      "  lock(A);",
      " *** DEADLOCK ***",
      "1 lock held by init/1:",
      " #0: (C), at: mutex_lock",
      "stack backtrace:",
      "CPU: 0 PID: 1 Comm: init 2.6.22-lkvm #1 Not tainted",
    ]);
  });

  it("spinlocks and mutexes share one graph; only the first problem is reported, then debug_locks is off", async () => {
    const { k } = await run_kernel(async (k) => {
      const [M, N, R1, R2, U] = mutexes(k, "M", "N", "R", "R", "U");
      const S = new spinlock_t();
      k.api.spin_lock_init(S, "S");
      await k.api.mutex_lock(M);
      await k.api.spin_lock(S);
      k.api.spin_unlock(S);
      k.api.mutex_unlock(M);
      await k.api.mutex_lock(N);
      await k.api.mutex_lock(M);
      k.api.mutex_unlock(M);
      k.api.mutex_unlock(N);
      // M -> S and N -> M are recorded; N taken under M would close N -> M -> N.
      await k.api.mutex_lock(M);
      await k.api.mutex_lock(N);
      k.api.mutex_unlock(N);
      k.api.mutex_unlock(M);
      // Problems after the first: recursion on a class, an unbalanced unlock.
      await k.api.mutex_lock(R1);
      await k.api.mutex_lock(R2);
      k.api.mutex_unlock(R2);
      k.api.mutex_unlock(R1);
      k.api.mutex_unlock(U);
    });
    expect(k.lockdep.classes.get("M")!.locks_after.has(k.lockdep.classes.get("S")!)).toBe(true);
    expect(reports(k)).toEqual(["WARNING: possible circular locking dependency detected"]);
    // N -> M was recorded; M held, N wanted: the chain runs N (#0) -> M (#1).
    expect(lines(k)).toContain("-> #1 (M):");
    expect(lines(k)).toContain("-> #0 (N):");
    expect(k.debug_locks).toBe(false);
  });

  it("with prove_locking off nothing is validated", async () => {
    const { k } = await run_kernel(async (k) => {
      const [A, B] = mutexes(k, "A", "B");
      for (const [x, y] of [[A, B], [B, A]]) {
        await k.api.mutex_lock(x);
        await k.api.mutex_lock(y);
        k.api.mutex_unlock(y);
        k.api.mutex_unlock(x);
      }
    }, { prove_locking: false });
    expect(reports(k)).toEqual([]);
    expect(k.lockdep.nr_dependencies).toBe(0);
    expect(k.debug_locks).toBe(true);
    expect(k.dmesg()).not.toMatch(/Lock dependency validator/);
  });
});

describe("lockdep: consistent orders", () => {
  it("threads that each take any subset of the locks in one global order are never reported (any seed, CPUs, threads)", async () => {
    const subset = fc.array(fc.boolean(), { minLength: 4, maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.array(subset, { minLength: 1, maxLength: 4 }), { minLength: 2, maxLength: 4 }),
        async (seed, ncpus, threads) => {
          const b = boot({ ncpus, seed });
          let finished = 0;
          b.k.start(async () => {
            const k = b.k;
            const L = mutexes(k, "L0", "L1", "L2", "L3");
            const S = new spinlock_t();
            k.api.spin_lock_init(S, "inner_spin");
            await spawn_all(k, threads.map((rounds, t) => [`t${t}`, async () => {
              for (const take of rounds) {
                const held = L.filter((_, i) => take[i]);
                for (const m of held) {
                  await k.api.mutex_lock(m);
                  await k.machine.cpu_yield(1000);
                }
                await k.api.spin_lock(S);
                k.api.spin_unlock(S);
                for (const m of held.reverse()) k.api.mutex_unlock(m);
                await k.api.cond_resched();
              }
              finished++;
            }]));
          });
          await b.machine.run();
          expect(finished).toBe(threads.length);
          expect(reports(b.k)).toEqual([]);
          expect(b.k.debug_locks).toBe(true);
          // Every dependency points from a lower to a higher lock (or to the spinlock).
          for (const [name, c] of b.k.lockdep.classes)
            for (const after of c.locks_after.keys()) expect(after.name === "inner_spin" || after.name > name, `${name} -> ${after.name}`).toBe(true);
        },
      ),
      { numRuns: 20 },
    );
  });

  it("a trylock is not validated, but later locks depend on it and on what is below it", async () => {
    const { k } = await run_kernel(async (k) => {
      const [A, B, C] = mutexes(k, "A", "B", "C");
      await k.api.mutex_lock(C);
      await k.api.mutex_lock(A);
      expect(mutex_trylock(k, B)).toBe(true);
      const [D] = mutexes(k, "D");
      await k.api.mutex_lock(D);
      k.api.mutex_unlock(D);
      k.api.mutex_unlock(B);
      k.api.mutex_unlock(A);
      k.api.mutex_unlock(C);
      // B -> A is no inversion: A -> B was never recorded.
      await k.api.mutex_lock(B);
      await k.api.mutex_lock(A);
      k.api.mutex_unlock(A);
      k.api.mutex_unlock(B);
    });
    const cls = (n: string) => k.lockdep.classes.get(n)!;
    expect(cls("A").locks_after.has(cls("B"))).toBe(false);
    expect(cls("B").locks_after.has(cls("D"))).toBe(true);
    expect(cls("A").locks_after.has(cls("D"))).toBe(true);
    expect(cls("C").locks_after.has(cls("A"))).toBe(true);
    expect(reports(k)).toEqual([]);
  });

  it("locks taken in interrupt context do not depend on what the interrupted task holds", async () => {
    const { k } = await run_kernel(async (k) => {
      const [M] = mutexes(k, "M");
      const S = new spinlock_t();
      k.api.spin_lock_init(S, "irq_lock");
      let holding = false;
      let release = false;
      const pid = k.kthread_run(async () => {
        await k.api.mutex_lock(M);
        holding = true;
        while (!release) await k.machine.cpu_yield(500);
        k.api.mutex_unlock(M);
        return 0;
      }, "holder");
      set_cpus_allowed_ptr(k, k.pids.get(pid)!, new Set([1]));
      while (!holding) await k.api.cond_resched();
      let ran_on: string | null = null;
      // The IPI interrupts the holder on CPU 1: the handler's lock is in irq context.
      expect(await k.api.smp_call_function_single(1, () => {
        ran_on = `${get_current(k).comm}`;
        k.api.spin_lock(S);
        k.api.spin_unlock(S);
      }, null, true)).toBe(0);
      expect(ran_on).toBe("holder");
      release = true;
    }, { ncpus: 2 });
    expect(k.lockdep.nr_dependencies).toBe(0);
    expect(reports(k)).toEqual([]);
  });
});

describe("lockdep: recursion, unbalanced unlock, locks left held", () => {
  it("two locks of one class nested: possible recursive locking (no deadlock: the machine goes on)", async () => {
    const { k } = await run_kernel(async (k) => {
      const [a, b] = mutexes(k, "vcpu->mutex", "vcpu->mutex");
      await k.api.mutex_lock(a);
      await k.api.mutex_lock(b);
      k.api.mutex_unlock(b);
      k.api.mutex_unlock(a);
      return 0;
    });
    const log = lines(k);
    const at = log.indexOf("WARNING: possible recursive locking detected");
    expect(log.slice(at - 1, at + 26)).toEqual([
      "============================================",
      "WARNING: possible recursive locking detected",
      "2.6.22-lkvm #1 Not tainted",
      "--------------------------------------------",
      "init/1 is trying to acquire lock:",
      "(vcpu->mutex), at: mutex_lock",
      "",
      "but task is already holding lock:",
      "(vcpu->mutex), at: mutex_lock",
      "",
      "other info that might help us debug this:",
      " Possible unsafe locking scenario:",
      "",
      "       CPU0",
      "       ----",
      "  lock(vcpu->mutex);",
      "  lock(vcpu->mutex);",
      "",
      " *** DEADLOCK ***",
      "",
      " May be due to missing lock nesting notation",
      "",
      "1 lock held by init/1:",
      " #0: (vcpu->mutex), at: mutex_lock",
      "",
      "stack backtrace:",
      "CPU: 0 PID: 1 Comm: init 2.6.22-lkvm #1 Not tainted",
    ]);
  });

  it("the same spinlock twice: lockdep's report, then the spinlock_debug BUG stops the machine", async () => {
    const b = boot();
    b.k.start(async () => {
      const l = new spinlock_t();
      b.k.api.spin_lock_init(l, "kvm_lock");
      await b.k.api.spin_lock(l);
      await b.k.api.spin_lock(l);
    });
    const err = await b.machine.run().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(MachineStopped);
    expect(reports(b.k)).toEqual(["WARNING: possible recursive locking detected", "BUG: spinlock recursion on CPU#0, init/1"]);
  });

  it("a mutex unlocked by a task that does not hold it: bad unlock balance, naming the releaser", async () => {
    const { k } = await run_kernel(async (k) => {
      const [m] = mutexes(k, "&dev->lock");
      await k.api.mutex_lock(m);
      await spawn_all(k, [["intruder", async () => k.api.mutex_unlock(m)]]);
    });
    const log = lines(k);
    const at = log.indexOf("WARNING: bad unlock balance detected!");
    expect(log.slice(at - 1, at + 12)).toEqual([
      "=====================================",
      "WARNING: bad unlock balance detected!",
      "2.6.22-lkvm #1 Not tainted",
      "-------------------------------------",
      expect.stringMatching(/^intruder\/\d+ is trying to release lock \(&dev->lock\) at:$/),
      "mutex_unlock",
      "but there are no more locks to release!",
      "",
      "other info that might help us debug this:",
      expect.stringMatching(/^no locks held by intruder\/\d+\.$/),
      "",
      "stack backtrace:",
      expect.stringMatching(/^CPU: \d PID: \d+ Comm: intruder /),
    ]);
    // DEBUG_LOCKS_WARN_ON(owner != current) stays silent: debug_locks is already off.
    expect(reports(k)).toEqual(["WARNING: bad unlock balance detected!"]);
    // The unlock still released it: init's stack is empty again.
    expect(k.pids.get(1)?.held_locks ?? []).toEqual([]);
  });

  it("a kernel thread that exits holding a mutex: still has locks held", async () => {
    const { k } = await run_kernel(async (k) => {
      const [m] = mutexes(k, "&kvm->slots_lock");
      await spawn_all(k, [["leaker", async () => k.api.mutex_lock(m)]]);
    });
    const log = lines(k);
    const at = log.findIndex((l) => /^WARNING: leaker\/\d+ still has locks held!$/.test(l));
    expect(at).toBeGreaterThan(0);
    expect(log.slice(at - 1, at + 8)).toEqual([
      "====================================",
      expect.stringMatching(/^WARNING: leaker\/\d+ still has locks held!$/),
      "2.6.22-lkvm #1 Not tainted",
      "------------------------------------",
      expect.stringMatching(/^1 lock held by leaker\/\d+:$/),
      " #0: (&kvm->slots_lock), at: mutex_lock",
      "",
      "stack backtrace:",
      expect.stringMatching(/^CPU: \d PID: \d+ Comm: leaker /),
    ]);
  });
});
