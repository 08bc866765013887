// userspace/libc/pthread.ts on host-linux: pthread_create/pthread_join over clone and
// futex, glibc style.

import { describe, expect, it } from "vitest";
import { CapturePipe } from "../../machine/host_pipe.js";
import { uva } from "../../machine/addr.js";
import { Libc } from "../../userspace/libc/libc.js";
import { linux_abi } from "../../userspace/libc/abi_linux.js";
import { pthread_create, pthread_join } from "../../userspace/libc/pthread.js";
import { futex_waiters } from "../../host-linux/kernel/futex/waitwake.js";
import { get_current } from "../../host-linux/arch/x86/kernel/percpu.js";
import { TIF_NEED_RESCHED } from "../../host-linux/include/linux/sched.js";
import type { linux_kernel } from "../../host-linux/init/main.js";
import { run_kernel } from "../host-linux/helpers.js";
import { FUTEX_PRIVATE_FLAG, FUTEX_WAIT, futex, load32, mutex_lock, mutex_unlock, store32 } from "../host-linux/uthread.js";

async function yield_(k: linux_kernel): Promise<void> {
  get_current(k).thread_info.flags |= TIF_NEED_RESCHED;
  await k.api.cond_resched();
}

describe("pthread (Linux ABI)", () => {
  it("create and join: each join returns its thread's value; stacks are freed", async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const { result } = await run_kernel(async (k) => {
        const before = k.free_page_count();
        let during = 0;
        let values: number[] = [];
        const st = await k.run_process("pt", async () => {
          const c = new Libc(linux_abi);
          const me = await c.getpid();
          const tids: number[] = [];
          for (let i = 0; i < 4; i++) {
            tids.push(await pthread_create(c, async () => {
              for (let j = 0; j < i + 1; j++) await c.getpid();
              return 100 + i * 7 - (i === 3 ? 200 : 0);
            }));
          }
          if (tids.some((t) => t <= 0 || t === me)) return 1;
          during = before - k.free_page_count();
          // join in reverse order: some have exited already, some not
          for (const t of [...tids].reverse()) values.push(await pthread_join(c, t));
          return 0;
        }, new CapturePipe(), new CapturePipe());
        return { st, values, leak: before - k.free_page_count(), during, waiters: futex_waiters(k), left: k.pids.size - 1 };
      }, { ncpus: 2, seed });
      expect(result.st, `seed ${seed}`).toEqual({ exit_code: 0, signal: null });
      expect(result.values, `seed ${seed}`).toEqual([-79, 114, 107, 100]);
      expect(result.during).toBeGreaterThan(0);
      expect(result.leak, `seed ${seed}`).toBe(0);
      expect(result.waiters).toBe(0);
      expect(result.left).toBe(0);
    }
  });

  it("two threads increment a shared counter under a futex mutex to the exact total (several seeds, 2 CPUs)", async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const { result } = await run_kernel(async (k) => {
        const before = k.free_page_count();
        let total = -1;
        let joined: number[] = [];
        const st = await k.run_process("count", async () => {
          const c = new Libc(linux_abi);
          const shared = await c.malloc(128);
          if (shared === null) return 1;
          const counter = shared, lock = shared + 64;
          const body = (id: number) => async () => {
            for (let i = 0; i < 30; i++) {
              await mutex_lock(lock);
              const v = load32(counter);
              await c.getpid(); // a system call inside the critical section: the other CPU runs
              store32(counter, v + 1);
              await mutex_unlock(lock);
            }
            return id;
          };
          const a = await pthread_create(c, body(1));
          const b = await pthread_create(c, body(2));
          joined = [await pthread_join(c, a), await pthread_join(c, b)];
          total = c.peek32(uva(counter));
          return 0;
        }, new CapturePipe(), new CapturePipe());
        return { st, total, joined, leak: before - k.free_page_count() };
      }, { ncpus: 2, seed });
      expect(result.st, `seed ${seed}`).toEqual({ exit_code: 0, signal: null });
      expect(result.total, `seed ${seed}`).toBe(60);
      expect(result.joined).toEqual([1, 2]);
      expect(result.leak, `seed ${seed}`).toBe(0);
    }
  });

  it("errors: join of an unknown or already joined thread is ESRCH, of itself EDEADLK", async () => {
    const { result } = await run_kernel(async (k) => {
      const r: Record<string, unknown> = {};
      await k.run_process("errs", async () => {
        const c = new Libc(linux_abi);
        r.unknown = await pthread_join(c, 12345);
        r.unknown_errno = c.errname();
        const t = await pthread_create(c, async () => 5);
        r.first = await pthread_join(c, t);
        r.again = await pthread_join(c, t);
        r.again_errno = c.errname();
        // a thread that joins itself
        let self_tid = 0;
        const t2 = await pthread_create(c, async () => {
          while (self_tid === 0) await c.getpid();
          const v = await pthread_join(c, self_tid);
          r.self_errno = c.errname();
          return v;
        });
        self_tid = t2;
        // wait until it has tried, so this join is not the one in progress
        while (r.self_errno === undefined) await c.getpid();
        r.self = await pthread_join(c, t2);
        // a second joiner while one waits
        const t3 = await pthread_create(c, async () => {
          for (let i = 0; i < 20; i++) await c.getpid();
          return 3;
        });
        const t4 = await pthread_create(c, async () => {
          const v = await pthread_join(c, t3);
          r.t4_join = v === -1 ? c.errname() : v;
          return 0;
        });
        const v3 = await pthread_join(c, t3);
        r.main_join = v3 === -1 ? c.errname() : v3;
        await pthread_join(c, t4);
        return 0;
      }, new CapturePipe(), new CapturePipe());
      return r;
    });
    expect(result).toMatchObject({
      unknown: -1, unknown_errno: "ESRCH", first: 5, again: -1, again_errno: "ESRCH", self: -1, self_errno: "EDEADLK",
    });
    // Two joiners of one thread: one gets its value, the other EINVAL.
    expect([result.main_join, result.t4_join].sort()).toEqual([3, "EINVAL"]);
  });

  it("kill -9 while the main thread waits in pthread_join (futex) and the other in a futex leaks nothing", async () => {
    const { result, k: kk } = await run_kernel(async (k) => {
      const before = k.free_page_count();
      let tid = 0;
      const pid = await k.spawn_process("joiner", async () => {
        const c = new Libc(linux_abi);
        const word = await c.malloc(4);
        tid = await pthread_create(c, async () => {
          // wait forever on a word nobody changes
          await futex(word!, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0);
          return 0;
        });
        return await pthread_join(c, tid);
      }, new CapturePipe(), new CapturePipe());
      for (let i = 0; i < 100 && !(tid !== 0 && k.pids.get(tid)?.state === 1 && k.pids.get(pid)?.state === 1); i++) {
        await k.machine.cpu_yield(2000);
        await yield_(k);
      }
      const waiting = futex_waiters(k);
      k.kill(pid, 9);
      const st = await k.wait_process(pid);
      return { st, waiting, leak: before - k.free_page_count(), waiters: futex_waiters(k) };
    }, { ncpus: 2 });
    expect(result).toEqual({ st: { exit_code: null, signal: 9 }, waiting: 2, leak: 0, waiters: 0 });
    expect(kk.pids.size).toBe(0);
  });
});
