import { describe, expect, it } from "vitest";
import { run_main } from "./helpers.js";
import { kthread_add } from "../../host-freebsd/kern/kern_thread.js";
import { pause, tsleep, wakeup } from "../../host-freebsd/kern/kern_synch.js";
import { sema, sema_init, sema_post, sema_wait, sema_trywait, sema_timedwait, sema_destroy, sema_value } from "../../host-freebsd/kern/kern_sema.js";
import { cv, cv_init, cv_wait, cv_wait_sig, cv_signal, cv_broadcast, cv_destroy } from "../../host-freebsd/kern/kern_condvar.js";
import { mtx, mtx_init, mtx_lock, mtx_unlock, MTX_DEF } from "../../host-freebsd/kern/kern_mutex.js";
import { pksignal } from "../../host-freebsd/kern/kern_sig.js";
import { SIGUSR1 } from "../../host-freebsd/sys/signal.js";
import { EINTR, EWOULDBLOCK } from "../../host-freebsd/sys/errno.js";

describe("sema(9)", () => {
  it("counts: waiters block at zero, posts release them in order, trywait and timedwait", async () => {
    const { result } = await run_main(async (b) => {
      const s = new sema();
      sema_init(s, 2, "pool");
      await sema_wait(s);
      await sema_wait(s);
      const try0 = await sema_trywait(s);
      const timed = await sema_timedwait(s, 2);
      const order: string[] = [];
      let left = 2;
      const done = {};
      for (const n of ["x", "y"])
        kthread_add(b.kern.k, async () => {
          await sema_wait(s);
          order.push(n);
          left--;
          wakeup(done);
        }, n, 0);
      await pause("w", 2);
      const blocked = order.length === 0;
      sema_post(s);
      sema_post(s);
      while (left > 0) await tsleep(done, 0, "j", 0);
      sema_post(s);
      const v = sema_value(s);
      sema_destroy(s);
      return { try0, timed, blocked, order, v };
    });
    expect(result).toEqual({ try0: false, timed: EWOULDBLOCK, blocked: true, order: ["x", "y"], v: 1 });
  });

  it("sema_wait is not interrupted by a signal", async () => {
    const { result } = await run_main(async (b) => {
      const s = new sema();
      sema_init(s, 0, "nosig");
      let done = false;
      const td = kthread_add(b.kern.k, async () => {
        await sema_wait(s);
        done = true;
      }, "w");
      await pause("w", 2);
      pksignal(b.kern.k, td.td_proc, SIGUSR1);
      await pause("w", 2);
      const early = done;
      b.kern.k.proc0.p_siglist.clear();
      sema_post(s);
      await pause("w", 2);
      return { early, late: done };
    });
    expect(result).toEqual({ early: false, late: true });
  });
});

describe("condvar(9)", () => {
  it("cv_wait drops the interlock while asleep; signal wakes one, broadcast all; cv_wait_sig sees signals", async () => {
    const { result } = await run_main(async (b) => {
      const m = new mtx();
      mtx_init(m, "cvlock", null, MTX_DEF);
      const c = new cv();
      cv_init(c, "cvtest");
      let ready = 0;
      const woke: string[] = [];
      for (const n of ["p", "q", "r"])
        kthread_add(b.kern.k, async () => {
          await mtx_lock(m);
          while (ready === 0) await cv_wait(c, m);
          ready--;
          woke.push(n);
          mtx_unlock(m);
        }, n, 0);
      await pause("w", 2);
      await mtx_lock(m);
      ready = 1;
      cv_signal(c);
      mtx_unlock(m);
      await pause("w", 2);
      const one = woke.length;
      await mtx_lock(m);
      ready = 2;
      cv_broadcast(c);
      mtx_unlock(m);
      await pause("w", 2);
      let sig = -1;
      const td = kthread_add(b.kern.k, async () => {
        await mtx_lock(m);
        sig = await cv_wait_sig(c, m);
        mtx_unlock(m);
      }, "s");
      await pause("w", 2);
      pksignal(b.kern.k, td.td_proc, SIGUSR1);
      await pause("w", 2);
      b.kern.k.proc0.p_siglist.clear();
      cv_destroy(c);
      return { one, all: woke.length, sig };
    });
    expect(result).toEqual({ one: 1, all: 3, sig: EINTR });
  });

  it("cv_wait without holding the interlock panics", async () => {
    await expect(run_main(async () => {
      const m = new mtx();
      mtx_init(m, "unheld", null, MTX_DEF);
      await cv_wait(new cv("c"), m);
    })).rejects.toThrow(/cv_wait: c: interlock not owned/);
  });
});
