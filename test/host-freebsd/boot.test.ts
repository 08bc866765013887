import { describe, expect, it } from "vitest";
import { run_main, boot } from "./helpers.js";
import { freebsd_boot } from "../../host-freebsd/kern/init_main.js";
import { curthread, PCPU_GET_cpuid } from "../../host-freebsd/sys/pcpu.js";
import { kthread_add } from "../../host-freebsd/kern/kern_thread.js";
import { mtx, mtx_init, mtx_lock, mtx_unlock, mtx_destroy, MTX_DEF, MTX_SPIN, mtx_lock_spin, mtx_unlock_spin } from "../../host-freebsd/kern/kern_mutex.js";
import { tsleep, wakeup, pause, maybe_yield, PCATCH } from "../../host-freebsd/kern/kern_synch.js";
import { sched_pin, sched_unpin } from "../../host-freebsd/kern/sched_ule.js";
import { critical_enter, critical_exit } from "../../host-freebsd/kern/kern_switch.js";
import { sx, sx_init, sx_xlock, sx_xunlock } from "../../host-freebsd/kern/kern_sx.js";
import { MachineStopped } from "../../machine/engine.js";
import { EWOULDBLOCK } from "../../host-freebsd/sys/errno.js";
import { smp_rendezvous } from "../../host-freebsd/kern/subr_smp.js";
import { DELAY } from "../../host-freebsd/amd64/delay.js";

describe("boot", () => {
  it("runs the SYSINITs, then main in thread0, and stops when idle", async () => {
    const { result, b } = await run_main(async () => curthread().td_name);
    expect(result).toBe("thread0");
    const d = b.kern.dmesg();
    expect(d).toContain("FreeBSD");
    expect(d).toContain("SMP: AP CPU #1 Launched!");
    expect(d.indexOf("real memory")).toBeLessThan(d.indexOf("avail memory"));
  });

  it("publishes no linux_kernel_api before linuxkpi is loaded", () => {
    const b = boot();
    expect(b.machine.kernel_symbols!("linux_kernel_api")).toBeUndefined();
  });

  it("refuses a second kernel on the same machine", () => {
    const b = boot();
    expect(() => freebsd_boot(b.machine)).toThrow(/already booted/);
  });

  it("panics carry the FreeBSD prefix and the thread name", async () => {
    const err = await run_main(async () => {
      critical_enter();
      await pause("crit", 1);
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MachineStopped);
    const reason = (err as MachineStopped).reason as Error;
    expect(reason.message).toMatch(/^panic: /);
    expect(reason.message).toContain("thread0");
  });
});

describe("threads, sleep and wakeup", () => {
  it("kthreads run on both CPUs and wake each other", async () => {
    const { result } = await run_main(async (b) => {
      const k = b.kern.k;
      const log: string[] = [];
      const chan = {};
      let finished = 0;
      const done = {};
      kthread_add(k, async () => {
        log.push(`A sleeps on cpu${PCPU_GET_cpuid()}`);
        await tsleep(chan, 0, "testwait", 0);
        log.push("A woke");
        finished++;
        wakeup(done);
      }, "A");
      kthread_add(k, async () => {
        await pause("nap", 3);
        log.push("B wakes A");
        wakeup(chan);
        finished++;
        wakeup(done);
      }, "B");
      while (finished < 2) await tsleep(done, 0, "join", 0);
      return log;
    });
    expect(result).toEqual([expect.stringMatching(/^A sleeps/), "B wakes A", "A woke"]);
  });

  it("a timed sleep returns EWOULDBLOCK", async () => {
    const { result } = await run_main(async () => tsleep({}, PCATCH, "timo", 2));
    expect(result).toBe(EWOULDBLOCK);
  });

  it("sched_pin: a pinned thread sleeps and resumes on the same CPU", async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const { result } = await run_main(
        async (b) => {
          const k = b.kern.k;
          const cpus: number[][] = [];
          let left = 4;
          const done = {};
          for (let t = 0; t < 4; t++)
            kthread_add(k, async () => {
              const seen: number[] = [];
              sched_pin();
              for (let i = 0; i < 5; i++) {
                seen.push(PCPU_GET_cpuid());
                await pause("pinned", 1 + ((i + t) % 3));
              }
              seen.push(PCPU_GET_cpuid());
              sched_unpin();
              cpus.push(seen);
              left--;
              wakeup(done);
            }, `pin${t}`);
          while (left > 0) await tsleep(done, 0, "join", 0);
          return cpus;
        },
        { seed },
      );
      for (const seen of result) expect(new Set(seen).size).toBe(1);
    }
  });

  it("unpinned threads migrate to an idle CPU", async () => {
    const { result } = await run_main(async (b) => {
      const k = b.kern.k;
      const seen = new Set<number>();
      let left = 3;
      const done = {};
      for (let t = 0; t < 3; t++)
        kthread_add(k, async () => {
          for (let i = 0; i < 6; i++) {
            seen.add(PCPU_GET_cpuid());
            await pause("roam", 1);
          }
          left--;
          wakeup(done);
        }, `roam${t}`);
      while (left > 0) await tsleep(done, 0, "join", 0);
      return seen;
    });
    expect(result.size).toBe(2);
  });
});

describe("mutexes and WITNESS", () => {
  it("MTX_DEF: contenders block on the turnstile and get the lock in turn", async () => {
    const { result } = await run_main(async (b) => {
      const k = b.kern.k;
      const m = new mtx();
      mtx_init(m, "test", null, MTX_DEF);
      const order: string[] = [];
      let inside = 0;
      let left = 3;
      const done = {};
      for (let t = 0; t < 3; t++)
        kthread_add(k, async () => {
          for (let i = 0; i < 3; i++) {
            await mtx_lock(m);
            inside++;
            expect(inside).toBe(1);
            order.push(`t${t}`);
            // Hold it across a busy-wait so others contend.
            await k.machine.cpu_yield(5000);
            inside--;
            mtx_unlock(m);
            await maybe_yield();
          }
          left--;
          wakeup(done);
        }, `m${t}`);
      while (left > 0) await tsleep(done, 0, "join", 0);
      mtx_destroy(m);
      return order;
    });
    expect(result.length).toBe(9);
  });

  it("sleeping with an MTX_DEF held panics (WITNESS)", async () => {
    const p = run_main(async () => {
      const m = new mtx();
      mtx_init(m, "held", null, MTX_DEF);
      await mtx_lock(m);
      await tsleep({}, 0, "bad", 1);
    });
    await expect(p).rejects.toThrow(/Sleeping on "bad" with the following non-sleepable locks held/);
  });

  it("sleeping in a critical section panics", async () => {
    const p = run_main(async () => {
      critical_enter();
      await pause("crit", 1);
    });
    await expect(p).rejects.toThrow(/critical section/);
  });

  it("recursing on a non-recursive mutex panics", async () => {
    const p = run_main(async () => {
      const m = new mtx();
      mtx_init(m, "rec", null, MTX_DEF);
      await mtx_lock(m);
      await mtx_lock(m);
    });
    await expect(p).rejects.toThrow(/recursed on non-recursive sleep mutex rec/);
  });

  it("destroying a mutex another thread holds panics", async () => {
    const p = run_main(async (b) => {
      const m = new mtx();
      mtx_init(m, "victim", null, MTX_DEF);
      const chan = {};
      kthread_add(b.kern.k, async () => {
        await mtx_lock(m);
        wakeup(chan);
        await b.kern.k.machine.cpu_yield(1_000_000);
        mtx_unlock(m);
      }, "holder");
      await tsleep(chan, 0, "w", 0);
      mtx_destroy(m);
    });
    await expect(p).rejects.toThrow(/destroyed while held by holder/);
  });

  it("an sx can be held across a sleep; acquiring one under a mutex panics", async () => {
    await run_main(async () => {
      const s = new sx();
      sx_init(s, "sxok");
      await sx_xlock(s);
      await pause("sx", 1);
      sx_xunlock(s);
    });
    const p = run_main(async () => {
      const m = new mtx();
      mtx_init(m, "outer", null, MTX_DEF);
      const s = new sx();
      sx_init(s, "inner");
      await mtx_lock(m);
      await sx_xlock(s);
    });
    await expect(p).rejects.toThrow(/acquiring sleepable lock sx inner with the following non-sleepable locks held/);
  });

  it("a spin mutex disables interrupts and enters a critical section", async () => {
    const { result } = await run_main(async (b) => {
      const m = new mtx();
      mtx_init(m, "spin", null, MTX_SPIN);
      await mtx_lock_spin(m);
      const inside = { ie: b.machine.cpus[PCPU_GET_cpuid()].intr_enabled, crit: curthread().td_critnest };
      mtx_unlock_spin(m);
      return { inside, after: { ie: b.machine.cpus[PCPU_GET_cpuid()].intr_enabled, crit: curthread().td_critnest } };
    });
    expect(result).toEqual({ inside: { ie: false, crit: 1 }, after: { ie: true, crit: 0 } });
  });

  it("a spin mutex held across DELAY on one CPU makes a contender on the other spin until it is released", async () => {
    const { result } = await run_main(async (b) => {
      const k = b.kern.k;
      const m = new mtx();
      mtx_init(m, "spin", null, MTX_SPIN);
      const log: { what: string; cpu: number; tsc: number; ie: boolean }[] = [];
      const note = (what: string) => {
        const cpu = b.machine.cpus[PCPU_GET_cpuid()];
        log.push({ what, cpu: cpu.id, tsc: cpu.tsc, ie: cpu.intr_enabled });
      };
      await mtx_lock_spin(m);
      note("holder locked");
      let done = false;
      kthread_add(k, async () => {
        note("contender trying");
        await mtx_lock_spin(m);
        note("contender locked");
        mtx_unlock_spin(m);
        done = true;
      }, "contender", 1);
      await DELAY(100);
      note("holder unlocking");
      mtx_unlock_spin(m);
      while (!done) await DELAY(10);
      return log;
    });
    const at = (what: string) => result.find((e) => e.what === what)!;
    expect(at("holder locked").cpu).toBe(0);
    expect(at("contender trying").cpu).toBe(1);
    expect(at("contender trying").tsc).toBeLessThan(at("holder unlocking").tsc);
    expect(at("contender locked").tsc).toBeGreaterThanOrEqual(at("holder unlocking").tsc);
    expect(at("contender locked").ie).toBe(false);
  });

  it("a spin mutex held for more than a second: \"spin lock held too long\"", async () => {
    const p = run_main(async (b) => {
      const m = new mtx();
      mtx_init(m, "sched lock", null, MTX_SPIN);
      await mtx_lock_spin(m);
      kthread_add(b.kern.k, async () => {
        await mtx_lock_spin(m);
        mtx_unlock_spin(m);
      }, "contender", 1);
      for (let i = 0; i < 1100; i++) await DELAY(1000);
      mtx_unlock_spin(m);
    });
    await expect(p).rejects.toThrow(/spin lock sched lock held by .* \(tid \d+\) too long/);
  });

  it("critical_exit without critical_enter panics", async () => {
    await expect(run_main(async () => critical_exit())).rejects.toThrow(MachineStopped);
  });

  it("smp_rendezvous runs the action on every CPU", async () => {
    const { result } = await run_main(async () => {
      const ran: number[] = [];
      await smp_rendezvous(() => ran.push(PCPU_GET_cpuid()), null);
      return ran.sort();
    }, { ncpus: 3 });
    expect(result).toEqual([0, 1, 2]);
  });
});

describe("more primitive error paths", () => {
  it("wakeup_one wakes the longest sleeper only; wakeup wakes the rest", async () => {
    const { result } = await run_main(async (b) => {
      const chan = {};
      const order: string[] = [];
      for (const n of ["a", "b", "c"])
        kthread_add(b.kern.k, async () => {
          await tsleep(chan, 0, "q", 0);
          order.push(n);
        }, n, 0);
      await pause("w", 2);
      const { wakeup_one } = await import("../../host-freebsd/kern/kern_synch.js");
      wakeup_one(chan);
      await pause("w", 2);
      const first = [...order];
      wakeup(chan);
      await pause("w", 2);
      return { first, all: order };
    });
    expect(result).toEqual({ first: ["a"], all: ["a", "b", "c"] });
  });

  it("mtx_trylock fails on a mutex another thread holds; unlocking a mutex one does not own panics", async () => {
    const { result } = await run_main(async (b) => {
      const { mtx_trylock } = await import("../../host-freebsd/kern/kern_mutex.js");
      const m = new mtx();
      mtx_init(m, "try", null, MTX_DEF);
      const chan = {};
      let release = false;
      kthread_add(b.kern.k, async () => {
        await mtx_lock(m);
        wakeup(chan);
        // Busy-wait: sleeping here would trip WITNESS.
        while (!release) await b.machine.cpu_yield(1000);
        mtx_unlock(m);
      }, "holder");
      await tsleep(chan, 0, "w", 0);
      const got = mtx_trylock(m);
      release = true;
      return got;
    });
    expect(result).toBe(false);
    await expect(run_main(async () => {
      const m = new mtx();
      mtx_init(m, "notmine", null, MTX_DEF);
      mtx_unlock(m);
    })).rejects.toThrow(/mtx_unlock: mutex notmine not owned/);
  });

  it("sx_xunlock by a non-owner panics; mtx_lock of a spin mutex panics", async () => {
    await expect(run_main(async () => {
      const s = new sx();
      sx_init(s, "s");
      sx_xunlock(s);
    })).rejects.toThrow(/sx_xunlock: lock s not exclusively locked/);
    await expect(run_main(async () => {
      const m = new mtx();
      mtx_init(m, "sp", null, MTX_SPIN);
      await mtx_lock(m);
    })).rejects.toThrow(/mtx_lock\(\) of spin mutex sp/);
  });

  it("a preemption requested in a critical section is owed and taken after critical_exit", async () => {
    const { result } = await run_main(async (b) => {
      const log: string[] = [];
      // Both threads on CPU 0; the first spins in a critical section past its slice.
      kthread_add(b.kern.k, async () => {
        critical_enter();
        for (let i = 0; i < 10; i++) await b.machine.cpu_yield(1_000_000);
        const owed = curthread().td_owepreempt;
        critical_exit();
        log.push(`owed ${owed}`);
        await maybe_yield();
        log.push("spinner resumes");
      }, "spinner", 0);
      kthread_add(b.kern.k, async () => {
        log.push("other ran");
      }, "other", 0);
      await pause("w", 30);
      return log;
    }, { ncpus: 1 });
    expect(result).toEqual(["owed true", "other ran", "spinner resumes"]);
  });
});
