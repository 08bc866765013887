// Threads of the Linux ABI on host-linux: clone(CLONE_THREAD...), exit vs exit_group,
// futex wait/wake, gettid/set_tid_address/tkill/tgkill/arch_prctl, and teardown of a
// thread group by SIGKILL (threads blocked in a futex or in a driver's interruptible
// wait) with nothing left behind.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CapturePipe } from "../../machine/host_pipe.js";
import { syscall, syscall_with_entry, user_load, user_store } from "../../machine/syscall.js";
import type { linux_kernel } from "../../host-linux/init/main.js";
import { get_current } from "../../host-linux/arch/x86/kernel/percpu.js";
import { TIF_NEED_RESCHED } from "../../host-linux/include/linux/sched.js";
import { futex_waiters } from "../../host-linux/kernel/futex/waitwake.js";
import { hrtimers_pending } from "../../host-linux/kernel/time/hrtimer.js";
import { current_cpu } from "../../machine/engine.js";
import { do_tkill } from "../../host-linux/kernel/signal.js";
import { EAGAIN, EFAULT, EINTR, EINVAL, ENOSYS, EPERM, ESRCH, ETIMEDOUT } from "../../host-linux/include/linux/errno.js";
import type { mutex } from "../../host-linux/include/linux/lock_types.js";
import type { file_operations } from "../../host-linux/include/linux/fs_types.js";
import type { miscdevice } from "../../host-linux/include/linux/miscdevice_types.js";
import { run_kernel } from "./helpers.js";
import {
  CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_FILES, CLONE_FS, CLONE_NEWNS, CLONE_PTHREAD, CLONE_SETTLS,
  CLONE_SIGHAND, CLONE_THREAD, CLONE_VFORK, CLONE_VM, FUTEX_PRIVATE_FLAG, FUTEX_WAIT, FUTEX_WAKE, NR, O_RDWR,
  clone_thread, futex, load32, mmap_anon, mutex_lock, mutex_unlock, ret, store32, wait_tid, type lock_stats,
} from "./uthread.js";

const enc = (s: string) => new TextEncoder().encode(s);

async function yield_(k: linux_kernel): Promise<void> {
  get_current(k).thread_info.flags |= TIF_NEED_RESCHED;
  await k.api.cond_resched();
}

/** Let the machine run until `cond` holds (or give up after n rounds). */
async function settle(k: linux_kernel, cond: () => boolean, n = 200): Promise<void> {
  for (let i = 0; i < n && !cond(); i++) {
    await k.machine.cpu_yield(2000);
    await yield_(k);
  }
}

/** A thread's state by tid. */
const state_of = (k: linux_kernel, tid: number): number => k.pids.get(tid)?.state ?? -1;

describe("clone: threads of one process", () => {
  it("ids / CHILD_SETTID / CHILD_CLEARTID, CLONE_SETTLS, shared memory and fds", async () => {
    const out = new CapturePipe();
    const { result } = await run_kernel(async (k) => {
      const before = k.free_page_count();
      const r: Record<string, number | string> = {};
      const st = await k.run_process("ids", async () => {
        const page = await mmap_anon(4096);
        const desc = page + 256, settid = page + 512;
        r.pid = ret(await syscall(NR.getpid));
        r.main_tid = ret(await syscall(NR.gettid));
        const tid = ret(await syscall_with_entry(NR.clone, async () => {
          r.child_pid = ret(await syscall(NR.getpid));
          r.child_tid = ret(await syscall(NR.gettid));
          r.arch_get_fs = ret(await syscall(NR.arch_prctl, 0x1003, page + 1024));
          r.fs = Number(new DataView(user_load_bytes(page + 1024, 8).buffer).getBigUint64(0, true));
          store32(page, 0x1234); // shared memory
          user_store(page + 2048, enc("from the thread\n"));
          r.child_write = ret(await syscall(NR.write, 1, page + 2048, 16)); // shared fd table
          return 0;
        }, CLONE_PTHREAD, 0, desc, desc, 0x5000_0000));
        r.tid = tid;
        r.ptid = load32(desc);
        await wait_tid(desc);
        r.ctid_after = load32(desc);
        r.shared = load32(page);
        // CLONE_CHILD_SETTID writes the child's own copy of its tid (here: the same mm).
        const tid2 = ret(await syscall_with_entry(NR.clone, async () => 0,
          CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID, 0, 0, settid, 0));
        await wait_tid(settid);
        r.tid2 = tid2;
        r.settid_cleared = load32(settid);
        return 0;
      }, out, new CapturePipe());
      return { st, r, leak: before - k.free_page_count(), left: k.pids.size - 1 /* kernel_init */, waiters: futex_waiters(k) };
    }, { ncpus: 2 });
    const r = result.r;
    expect(result.st).toEqual({ exit_code: 0, signal: null });
    expect(r.main_tid).toBe(r.pid);
    expect(r.child_pid).toBe(r.pid);
    expect(r.child_tid).toBe(r.tid);
    expect(r.tid).not.toBe(r.pid);
    expect(r.ptid).toBe(r.tid);
    expect(r.ctid_after).toBe(0);
    expect(r.shared).toBe(0x1234);
    expect(r.arch_get_fs).toBe(0);
    expect(r.fs).toBe(0x5000_0000);
    expect(r.child_write).toBe(16);
    expect(out.text()).toBe("from the thread\n");
    expect(r.tid2).toBeGreaterThan(0);
    expect(r.settid_cleared).toBe(0);
    expect(result.leak).toBe(0);
    expect(result.left).toBe(0);
    expect(result.waiters).toBe(0);
  });
});

function user_load_bytes(va: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  user_load(va, b);
  return b;
}

/** Two threads (main and one clone) each add `n` to a shared counter, with a syscall
 *  inside the critical section so the other CPU runs in between. */
async function counter_run(seed: number, n: number, locked: boolean) {
  return run_kernel(async (k) => {
    const before = k.free_page_count();
    const stats: lock_stats = { slept: 0, eagain: 0 };
    let total = -1;
    let cpus = new Set<number>();
    const st = await k.run_process("counter", async () => {
      const page = await mmap_anon(4096);
      const counter = page, lock = page + 64, desc = page + 128;
      const body = async () => {
        for (let i = 0; i < n; i++) {
          if (locked) await mutex_lock(lock, stats);
          const v = load32(counter);
          await syscall(NR.getpid);
          cpus.add(k.machine.cpus.findIndex((c) => c.ctx === get_current(k).ctx));
          store32(counter, v + 1);
          if (locked) await mutex_unlock(lock);
        }
        return 0;
      };
      const tid = await clone_thread(body, desc);
      if (tid < 0) return 100;
      await body();
      await wait_tid(desc);
      total = load32(counter);
      return 0;
    }, new CapturePipe(), new CapturePipe());
    return { st, total, stats, cpus: cpus.size, leak: before - k.free_page_count(), waiters: futex_waiters(k) };
  }, { ncpus: 2, seed });
}

describe("futex: a mutex between two threads on two CPUs", () => {
  it("reaches the exact total for every seed; without the lock updates are lost", async () => {
    const N = 40;
    let lost_somewhere = false;
    let slept = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const { result } = await counter_run(seed, N, true);
      expect(result.st, `seed ${seed}`).toEqual({ exit_code: 0, signal: null });
      expect(result.total, `seed ${seed}`).toBe(2 * N);
      expect(result.leak, `seed ${seed}`).toBe(0);
      expect(result.waiters, `seed ${seed}`).toBe(0);
      expect(result.cpus, `seed ${seed}`).toBe(2);
      slept += result.stats.slept;
      const racy = await counter_run(seed, N, false);
      if (racy.result.total < 2 * N) lost_somewhere = true;
    }
    // The lock was contended (waiters really slept and were woken) ...
    expect(slept).toBeGreaterThan(0);
    // ... and it was needed.
    expect(lost_somewhere).toBe(true);
  });

  it("the same seed gives the same run", async () => {
    const a = await counter_run(5, 20, true);
    const b = await counter_run(5, 20, true);
    expect(a.result.stats).toEqual(b.result.stats);
    expect(a.machine.cpus.map((c) => c.tsc)).toEqual(b.machine.cpus.map((c) => c.tsc));
  });
});

describe("futex: property", () => {
  it("any number of threads, CPUs and seed: the futex mutex loses no update, and exit leaves no waiter, task or page", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 12 }),
        async (seed, nthreads, ncpus, n) => {
          const { result } = await run_kernel(async (k) => {
            const before = k.free_page_count();
            let total = -1;
            const st = await k.run_process("prop", async () => {
              const page = await mmap_anon(4096);
              const counter = page, lock = page + 64;
              const body = async () => {
                for (let i = 0; i < n; i++) {
                  await mutex_lock(lock);
                  const v = load32(counter);
                  await syscall(NR.sched_yield);
                  store32(counter, v + 1);
                  await mutex_unlock(lock);
                }
                return 0;
              };
              for (let t = 0; t < nthreads; t++) if ((await clone_thread(body, page + 128 + 8 * t)) < 0) return 100;
              await body();
              for (let t = 0; t < nthreads; t++) await wait_tid(page + 128 + 8 * t);
              total = load32(counter);
              return 0;
            }, new CapturePipe(), new CapturePipe());
            return { st, total, leak: before - k.free_page_count(), waiters: futex_waiters(k), left: k.pids.size - 1 };
          }, { ncpus, seed });
          expect(result).toEqual({ st: { exit_code: 0, signal: null }, total: (nthreads + 1) * n, leak: 0, waiters: 0, left: 0 });
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe("exit, exit_group and the process's status", () => {
  it("exit_group ends every thread, including one blocked in a futex; status is exit_group's", async () => {
    const { result } = await run_kernel(async (k) => {
      const before = k.free_page_count();
      let woke = false;
      const st = await k.run_process("eg", async () => {
        const page = await mmap_anon(4096);
        await clone_thread(async () => {
          await futex(page, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0);
          woke = true;
          return 0;
        }, page + 64);
        for (let i = 0; i < 5; i++) await syscall(NR.sched_yield);
        await syscall(NR.exit_group, 5);
        return 99;
      }, new CapturePipe(), new CapturePipe());
      return { st, woke, leak: before - k.free_page_count(), waiters: futex_waiters(k), left: k.pids.size - 1 };
    }, { ncpus: 2 });
    expect(result).toEqual({ st: { exit_code: 5, signal: null }, woke: false, leak: 0, waiters: 0, left: 0 });
  });

  it("returning from main is exit_group: the other thread goes too", async () => {
    const { result } = await run_kernel(async (k) => {
      const before = k.free_page_count();
      const st = await k.run_process("ret", async () => {
        const page = await mmap_anon(4096);
        await clone_thread(async () => {
          await syscall(NR.pause);
          return 0;
        }, page + 64);
        await syscall(NR.sched_yield);
        return 7;
      }, new CapturePipe(), new CapturePipe());
      return { st, leak: before - k.free_page_count(), left: k.pids.size - 1 };
    }, { ncpus: 2 });
    expect(result).toEqual({ st: { exit_code: 7, signal: null }, leak: 0, left: 0 });
  });

  it("exit(2) ends only the calling thread; the process lives until its last thread and reports the leader's code", async () => {
    const out = new CapturePipe();
    const { result } = await run_kernel(async (k) => {
      const before = k.free_page_count();
      let leader_gone_seen = false;
      const pid = await k.spawn_process("exit", async () => {
        const page = await mmap_anon(4096);
        const leader = ret(await syscall(NR.getpid));
        await clone_thread(async () => {
          // wait for the leader to be a zombie, then work on
          while ((k.pids.get(leader)?.exit_state ?? 0) === 0) await syscall(NR.sched_yield);
          leader_gone_seen = true;
          user_store(page + 100, enc("still here\n"));
          await syscall(NR.write, 1, page + 100, 11);
          return 9;
        }, page + 64);
        await syscall(NR.exit, 3);
        return 99;
      }, out, new CapturePipe());
      const st = await k.wait_process(pid);
      return { st, leader_gone_seen, leak: before - k.free_page_count(), left: k.pids.size - 1 };
    }, { ncpus: 2 });
    expect(result).toEqual({ st: { exit_code: 3, signal: null }, leader_gone_seen: true, leak: 0, left: 0 });
    expect(out.text()).toBe("still here\n");
  });

  it("a fault in one thread kills the process with SIGSEGV; an exception in one is SIGABRT", async () => {
    const err = new CapturePipe();
    const { result } = await run_kernel(async (k) => {
      const before = k.free_page_count();
      const segv = await k.run_process("segv", async () => {
        const page = await mmap_anon(4096);
        await clone_thread(async () => {
          user_load(0x1000, new Uint8Array(1));
          return 0;
        }, page + 64);
        await futex(page, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0);
        return 0;
      }, new CapturePipe(), new CapturePipe());
      const abrt = await k.run_process("abrt", async () => {
        const page = await mmap_anon(4096);
        await clone_thread(async () => {
          throw new Error("bug in a thread");
        }, page + 64);
        await futex(page, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0);
        return 0;
      }, new CapturePipe(), err);
      return { segv, abrt, leak: before - k.free_page_count(), waiters: futex_waiters(k), left: k.pids.size - 1 };
    }, { ncpus: 2 });
    expect(result).toEqual({ segv: { exit_code: null, signal: 11 }, abrt: { exit_code: null, signal: 6 }, leak: 0, waiters: 0, left: 0 });
    expect(err.text()).toMatch(/bug in a thread/);
  });
});

describe("signals and thread groups", () => {
  it("kill -9 while one thread waits in a futex and another in a driver's interruptible sleep leaks nothing", async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const { result, k: kk } = await run_kernel(async (k) => {
        // A driver whose ioctl sleeps interruptibly on a mutex the kernel holds, as
        // KVM_RUN sleeps in the guest until a signal.
        const held: mutex = { impl: null } as unknown as mutex;
        k.api.mutex_init(held, "blocker_held");
        await k.api.mutex_lock(held);
        let releases = 0, ioctl_ret = 1;
        const fops: file_operations = {
          unlocked_ioctl: async () => {
            ioctl_ret = await k.api.mutex_lock_interruptible(held);
            if (ioctl_ret === 0) k.api.mutex_unlock(held);
            return ioctl_ret;
          },
          release: async () => {
            releases++;
            return 0;
          },
        };
        const misc: miscdevice = { minor: 255, name: "blocker", fops } as miscdevice;
        expect(await k.api.misc_register(misc)).toBe(0);
        const before = k.free_page_count();
        let tids: number[] = [];
        const pid = await k.spawn_process("victim", async () => {
          const page = await mmap_anon(8 * 4096);
          for (let i = 0; i < 8; i++) store32(page + i * 4096, i);
          user_store(page + 512, enc("/dev/blocker\0"));
          const fd = ret(await syscall(NR.open, page + 512, O_RDWR));
          tids.push(await clone_thread(async () => {
            await syscall(NR.ioctl, fd, 0xae80, 0);
            return 0;
          }, page + 64));
          tids.push(await clone_thread(async () => {
            await futex(page + 1024, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0);
            return 0;
          }, page + 128));
          await futex(page + 2048, FUTEX_WAIT, 0);
          return 0;
        }, new CapturePipe(), new CapturePipe());
        await settle(k, () => tids.length === 2 && tids.every((t) => state_of(k, t) === 1) && state_of(k, pid) === 1);
        const states = [pid, ...tids].map((t) => state_of(k, t));
        const waiting = futex_waiters(k);
        const r = k.kill(pid, 9);
        const st = await k.wait_process(pid);
        const out = { st, r, states, waiting, releases, ioctl_ret, leak: before - k.free_page_count(), waiters: futex_waiters(k), left: k.pids.size - 1, after_kill: k.kill(pid, 9) };
        k.api.mutex_unlock(held);
        await k.api.misc_deregister(misc);
        return out;
      }, { ncpus: 2, seed });
      expect(result.states, `seed ${seed}`).toEqual([1, 1, 1]); // TASK_INTERRUPTIBLE
      expect(result.waiting, `seed ${seed}`).toBe(2);
      expect(result.r).toBe(0);
      expect(result.st, `seed ${seed}`).toEqual({ exit_code: null, signal: 9 });
      expect(result.ioctl_ret, `seed ${seed}`).toBe(-EINTR);
      expect(result.releases, `seed ${seed}`).toBe(1);
      expect(result.leak, `seed ${seed}`).toBe(0);
      expect(result.waiters, `seed ${seed}`).toBe(0);
      expect(result.left, `seed ${seed}`).toBe(0);
      expect(result.after_kill).toBe(-ESRCH);
      expect(kk.pids.size).toBe(0);
    }
  });

  it("tgkill interrupts one thread's futex wait with EINTR; kill(2) is taken by one thread; both go on", async () => {
    const { result } = await run_kernel(async (k) => {
      const r: Record<string, number> = {};
      let tid = 0;
      const pid = await k.spawn_process("sig", async () => {
        const page = await mmap_anon(4096);
        tid = await clone_thread(async () => {
          r.child_wait = await futex(page, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0);
          r.child_wait2 = await futex(page, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0);
          return 0;
        }, page + 64);
        // the main thread waits on another word; the tgkill below is not for it
        r.main_wait = await futex(page + 8, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0);
        r.tgkill_wrong_group = ret(await syscall(NR.tgkill, 99999, tid, 10));
        r.tkill_bad = ret(await syscall(NR.tkill, 0, 10));
        r.tgkill_self = ret(await syscall(NR.tgkill, ret(await syscall(NR.getpid)), ret(await syscall(NR.gettid)), 0));
        store32(page, 1);
        r.wake = await futex(page, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1);
        await wait_tid(page + 64);
        return 4;
      }, new CapturePipe(), new CapturePipe());
      await settle(k, () => tid !== 0 && state_of(k, tid) === 1 && state_of(k, pid) === 1);
      r.tgkill = do_tkill(k, pid, tid, 10);
      await settle(k, () => r.child_wait !== undefined && state_of(k, tid) === 1);
      r.main_still_waiting = state_of(k, pid);
      // A process-directed signal: taken by a thread that can take it, which returns EINTR.
      k.kill(pid, 10);
      const st = await k.wait_process(pid);
      return { r, st };
    }, { ncpus: 2 });
    expect(result.st).toEqual({ exit_code: 4, signal: null });
    expect(result.r).toMatchObject({
      tgkill: 0, child_wait: -EINTR, main_still_waiting: 1, tgkill_wrong_group: -ESRCH, tkill_bad: -EINVAL, tgkill_self: 0,
    });
    // kill(2) woke exactly one of the two waiters.
    const woken = [result.r.main_wait === -EINTR, result.r.child_wait2 === -EINTR].filter(Boolean).length;
    expect(woken).toBe(1);
    expect(result.r.wake === 1 || result.r.wake === 0).toBe(true);
  });
});

describe("errors", () => {
  it("clone refuses what it does not implement, and bad combinations", async () => {
    const { result, k } = await run_kernel(async (k) => {
      const r: Record<string, number> = {};
      const before = k.free_page_count();
      const st = await k.run_process("clone-errors", async () => {
        const page = await mmap_anon(4096);
        const c = async (flags: number, tls = 0, entry = true) =>
          entry ? ret(await syscall_with_entry(NR.clone, async () => 0, flags, 0, page, page, tls)) : ret(await syscall(NR.clone, flags, 0, page, page, tls));
        r.fork = await c(17 /* SIGCHLD */);
        r.thread_no_sighand = await c(CLONE_VM | CLONE_THREAD);
        r.sighand_no_vm = await c(CLONE_SIGHAND | CLONE_THREAD);
        r.vm_only = await c(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND);
        r.newns_fs = await c(CLONE_PTHREAD | CLONE_NEWNS);
        r.vfork = await c(CLONE_PTHREAD | CLONE_VFORK);
        r.no_entry = await c(CLONE_PTHREAD, 0, false);
        r.kernel_tls = await c(CLONE_PTHREAD | CLONE_SETTLS, 2 ** 52);
        r.arch_prctl_bad = ret(await syscall(NR.arch_prctl, 0x9999, 0));
        r.arch_prctl_fault = ret(await syscall(NR.arch_prctl, 0x1003, 0x1000));
        r.arch_prctl_set_kernel = ret(await syscall(NR.arch_prctl, 0x1002, 2 ** 52));
        r.set_tid_address = ret(await syscall(NR.set_tid_address, page));
        r.gettid = ret(await syscall(NR.gettid));
        return 0;
      }, new CapturePipe(), new CapturePipe());
      return { st, r, leak: before - k.free_page_count() };
    });
    expect(result.st.exit_code).toBe(0);
    expect(result.r).toEqual({
      fork: -ENOSYS, thread_no_sighand: -EINVAL, sighand_no_vm: -EINVAL, vm_only: -EINVAL, newns_fs: -EINVAL, vfork: -EINVAL,
      no_entry: -EINVAL, kernel_tls: -EPERM, arch_prctl_bad: -EINVAL, arch_prctl_fault: -EFAULT, arch_prctl_set_kernel: -EPERM,
      set_tid_address: result.r.gettid, gettid: result.r.gettid,
    });
    expect(result.leak).toBe(0);
    expect(k.dmesg()).toMatch(/fork \(clone without CLONE_VM\) is not implemented/);
    expect(k.dmesg()).toMatch(/CLONE_VFORK not implemented/);
    expect(k.dmesg()).toMatch(/CLONE_VM without CLONE_THREAD not implemented/);
  });

  it("futex: EAGAIN, EINVAL, EFAULT, ENOSYS, and private/shared keys do not meet", async () => {
    const { result, k } = await run_kernel(async (k) => {
      const r: Record<string, number> = {};
      const st = await k.run_process("futex-errors", async () => {
        const page = await mmap_anon(2 * 4096);
        store32(page, 7);
        r.eagain = await futex(page, FUTEX_WAIT, 6);
        r.eagain_private = await futex(page, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0);
        r.misaligned_wait = await futex(page + 2, FUTEX_WAIT, 7);
        r.misaligned_wake = await futex(page + 2, FUTEX_WAKE, 1);
        r.unmapped_wait = await futex(0x1000, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0);
        r.unmapped_wake_shared = await futex(0x1000, FUTEX_WAKE, 1);
        r.unmapped_wake_private = await futex(0x1000, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1); // no memory is touched
        r.kernel_addr = await futex(2 ** 52, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1);
        r.nobody = await futex(page, FUTEX_WAKE, 1);
        r.unknown_op = await futex(page, 99, 0);
        r.requeue = await futex(page, 3 /* FUTEX_REQUEUE */, 1);
        r.clock_rt_wait = await futex(page, FUTEX_WAIT | 256, 7);
        r.bitset_zero = await futex(page, 9 /* FUTEX_WAIT_BITSET */, 7, 0, 0, 0);
        // timeouts: a bad timespec is EINVAL, an unreadable one EFAULT
        const ts = page + 4096;
        user_store(ts, new Uint8Array(new BigInt64Array([0n, 1_000_000_000n]).buffer));
        r.bad_timeout = await futex(page, FUTEX_WAIT, 7, ts);
        r.fault_timeout = await futex(page, FUTEX_WAIT, 7, 0x1000);
        user_store(ts, new Uint8Array(new BigInt64Array([1n, 0n]).buffer));
        r.timeout = await futex(page, FUTEX_WAIT, 7, ts);
        // a private waiter is not found by a shared wake (and vice versa)
        store32(page + 16, 0);
        const tid = await clone_thread(async () => {
          r.private_wait = await futex(page + 16, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0);
          return 0;
        }, page + 64);
        while (k.pids.get(tid)?.state !== 1) await syscall(NR.sched_yield);
        r.shared_wake = await futex(page + 16, FUTEX_WAKE, 1);
        r.private_wake = await futex(page + 16, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1);
        await wait_tid(page + 64);
        return 0;
      }, new CapturePipe(), new CapturePipe());
      return { st, r };
    }, { ncpus: 2 });
    expect(result.st.exit_code).toBe(0);
    expect(result.r).toEqual({
      eagain: -EAGAIN, eagain_private: -EAGAIN, misaligned_wait: -EINVAL, misaligned_wake: -EINVAL, unmapped_wait: -EFAULT,
      unmapped_wake_shared: -EFAULT, unmapped_wake_private: 0, kernel_addr: -EFAULT, nobody: 0, unknown_op: -ENOSYS,
      requeue: -ENOSYS, clock_rt_wait: -ENOSYS, bitset_zero: -EINVAL, bad_timeout: -EINVAL, fault_timeout: -EFAULT,
      timeout: -ETIMEDOUT, shared_wake: 0, private_wake: 1, private_wait: 0,
    });
    expect(k.dmesg()).toMatch(/FUTEX_REQUEUE not implemented/);
  });

  it("clone without CLONE_FILES copies the fd table: a close in the thread leaves the parent's fd open", async () => {
    const { result } = await run_kernel(async (k) => {
      const r: Record<string, number> = {};
      const before = k.free_page_count();
      const st = await k.run_process("dupfd", async () => {
        const page = await mmap_anon(4096);
        user_store(page + 512, enc("/dev/null\0"));
        const fd = ret(await syscall(NR.open, page + 512, O_RDWR));
        r.fd = fd;
        await clone_thread(async () => {
          r.child_close = ret(await syscall(NR.close, fd));
          r.child_close_again = ret(await syscall(NR.close, fd));
          return 0;
        }, page + 64, CLONE_PTHREAD & ~CLONE_FILES);
        await wait_tid(page + 64);
        r.parent_write = ret(await syscall(NR.write, fd, page, 4));
        r.parent_close = ret(await syscall(NR.close, fd));
        return 0;
      }, new CapturePipe(), new CapturePipe());
      return { st, r, leak: before - k.free_page_count() };
    });
    expect(result.r).toEqual({ fd: 3, child_close: 0, child_close_again: -9, parent_write: 4, parent_close: 0 });
    expect(result.leak).toBe(0);
  });
});

describe("futex timeouts (hrtimers)", () => {
  /** struct __kernel_timespec at va. */
  const put_ts = (va: number, sec: bigint, nsec: bigint) => user_store(va, new Uint8Array(new BigInt64Array([sec, nsec]).buffer));

  it("FUTEX_WAIT times out after its relative timeout on an idle machine; a wake before it returns 0 and cancels the timer", async () => {
    for (const ncpus of [1, 2]) {
      const { result } = await run_kernel(async (k) => {
        const r: Record<string, number> = {};
        let timers_while_waiting = -1;
        const st = await k.run_process("timed", async () => {
          const page = await mmap_anon(4096);
          const ts = page + 512;
          put_ts(ts, 0n, 2_000_000n); // 2 ms
          const t0 = current_cpu().tsc;
          r.timedout = await futex(page, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, ts);
          r.elapsed_ms = (current_cpu().tsc - t0) / 1_000_000;
          // a waker thread comes first
          put_ts(ts, 10n, 0n);
          await clone_thread(async () => {
            for (let i = 0; i < 5; i++) await syscall(NR.sched_yield);
            timers_while_waiting = hrtimers_pending(k);
            store32(page, 1);
            await futex(page, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1);
            return 0;
          }, page + 64);
          const t1 = current_cpu().tsc;
          r.woken = await futex(page, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, ts);
          r.woken_fast = current_cpu().tsc - t1 < 1_000_000_000 ? 1 : 0;
          await wait_tid(page + 64);
          // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time: one in the past has passed
          put_ts(ts, 0n, 1n);
          r.bitset_past = await futex(page, 9 /* FUTEX_WAIT_BITSET */, 1, ts, 0, 0xffffffff);
          r.bitset_realtime_past = await futex(page, 9 | 256 /* FUTEX_CLOCK_REALTIME */, 1, ts, 0, 0xffffffff);
          return 0;
        }, new CapturePipe(), new CapturePipe());
        return { st, r, timers_while_waiting, timers: hrtimers_pending(k) };
      }, { ncpus });
      expect(result.st, `${ncpus} CPUs`).toEqual({ exit_code: 0, signal: null });
      expect(result.r.timedout).toBe(-ETIMEDOUT);
      expect(result.r.elapsed_ms).toBeGreaterThanOrEqual(2);
      expect(result.r.elapsed_ms).toBeLessThan(4);
      expect(result.r.woken).toBe(0);
      expect(result.r.woken_fast).toBe(1);
      expect(result.r.bitset_past).toBe(-ETIMEDOUT);
      expect(result.r.bitset_realtime_past).toBe(-ETIMEDOUT);
      expect(result.timers_while_waiting).toBe(1);
      expect(result.timers).toBe(0);
    }
  });

  it("kill -9 during a timed wait leaves no timer, waiter or page behind", async () => {
    const { result } = await run_kernel(async (k) => {
      const before = k.free_page_count();
      const pid = await k.spawn_process("tw", async () => {
        const page = await mmap_anon(4096);
        put_ts(page + 512, 3600n, 0n);
        await clone_thread(async () => {
          await futex(page, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, page + 512);
          return 0;
        }, page + 64);
        await futex(page + 4, FUTEX_WAIT, 0, page + 512);
        return 0;
      }, new CapturePipe(), new CapturePipe());
      await settle(k, () => futex_waiters(k) === 2);
      const timers = hrtimers_pending(k);
      k.kill(pid, 9);
      const st = await k.wait_process(pid);
      return { st, timers, after: hrtimers_pending(k), waiters: futex_waiters(k), leak: before - k.free_page_count() };
    }, { ncpus: 2 });
    expect(result).toEqual({ st: { exit_code: null, signal: 9 }, timers: 2, after: 0, waiters: 0, leak: 0 });
  });
});
