import { describe, expect, it } from "vitest";
import { CapturePipe } from "../../machine/host_pipe.js";
import { syscall, user_load, user_store } from "../../machine/syscall.js";
import type { SyscallResult } from "../../machine/syscall.js";
import { run_kernel } from "./helpers.js";
import type { linux_kernel } from "../../host-linux/init/main.js";
import { get_current } from "../../host-linux/arch/x86/kernel/percpu.js";
import { TIF_NEED_RESCHED } from "../../host-linux/include/linux/sched.js";

/** yield(): let the other runnable tasks of this CPU run. */
async function yield_(k: linux_kernel): Promise<void> {
  get_current(k).thread_info.flags |= TIF_NEED_RESCHED;
  await k.api.cond_resched();
}
import { EBADF, EINVAL, ENOENT, ENOSYS, ENOTTY, ENODEV, EFAULT, ESRCH } from "../../host-linux/include/linux/errno.js";

const NR = { read: 0, write: 1, open: 2, close: 3, mmap: 9, munmap: 11, ioctl: 16, pause: 34, getpid: 39, exit: 60, kill: 62, exit_group: 231 };
const PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, O_RDWR = 2;

/** RAX as the C library sees it: a signed long. */
const ret = (r: SyscallResult): number => Number(BigInt.asIntN(64, r.rax));
const enc = (s: string) => new TextEncoder().encode(s);

/** Put a NUL-terminated string in user memory at va (which must be mapped). */
function put_str(va: number, s: string): void {
  user_store(va, enc(s + "\0"));
}

async function mmap_anon(len: number): Promise<number> {
  return ret(await syscall(NR.mmap, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
}

describe("processes and system calls", () => {
  it("hello: open /dev/null, mmap anonymous memory, write to fd 1, exit 3", async () => {
    const out = new CapturePipe();
    const err = new CapturePipe();
    const { result } = await run_kernel(async (k) => {
      const before = k.free_page_count();
      const st = await k.run_process("hello", async () => {
        const buf = await mmap_anon(4096);
        if (buf < 0) return 100;
        put_str(buf, "/dev/null");
        const fd = ret(await syscall(NR.open, buf, O_RDWR, 0));
        if (fd !== 3) return 101;
        user_store(buf + 64, enc("hello\n"));
        const n = ret(await syscall(NR.write, 1, buf + 64, 6));
        if (n !== 6) return 102;
        await syscall(NR.exit, 3);
        return 104; // not reached
      }, out, err);
      return { st, leak: before - k.free_page_count() };
    });
    expect(result.st).toEqual({ exit_code: 3, signal: null });
    expect(out.text()).toBe("hello\n");
    expect(err.text()).toBe("");
    expect(result.leak).toBe(0);
  });

  it("returning from the program is exit; getpid names the process", async () => {
    const { result } = await run_kernel(async (k) => {
      let pid = 0;
      const st = await k.run_process("p", async () => {
        pid = ret(await syscall(NR.getpid));
        return 7;
      }, new CapturePipe(), new CapturePipe());
      return { st, pid };
    });
    expect(result.st).toEqual({ exit_code: 7, signal: null });
    expect(result.pid).toBeGreaterThan(1);
  });

  it("error paths return -errno", async () => {
    const { result } = await run_kernel(async (k) => {
      const r: Record<string, number> = {};
      await k.run_process("errors", async () => {
        const buf = await mmap_anon(8192);
        r.bad_fd_write = ret(await syscall(NR.write, 42, buf, 1));
        r.bad_fd_close = ret(await syscall(NR.close, 42));
        r.bad_fd_ioctl = ret(await syscall(NR.ioctl, 42, 0, 0));
        r.neg_fd_read = ret(await syscall(NR.read, -1, buf, 1));
        r.ioctl_null = ret(await syscall(NR.ioctl, 0, 0x5401 /* TCGETS */, 0));
        r.munmap_unaligned = ret(await syscall(NR.munmap, buf + 1, 4096));
        r.munmap_zero = ret(await syscall(NR.munmap, buf, 0));
        r.mmap_zero = ret(await syscall(NR.mmap, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        r.mmap_notype = ret(await syscall(NR.mmap, 0, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0));
        r.mmap_badfd = ret(await syscall(NR.mmap, 0, 4096, PROT_READ, MAP_SHARED, 42, 0));
        r.mmap_unaligned_off = ret(await syscall(NR.mmap, 0, 4096, PROT_READ, MAP_SHARED, 0, 5));
        r.mmap_null = ret(await syscall(NR.mmap, 0, 4096, PROT_READ, MAP_SHARED, 0, 0));
        put_str(buf, "/dev/nonexistent");
        r.open_enoent = ret(await syscall(NR.open, buf, O_RDWR, 0));
        put_str(buf, "/etc/passwd");
        r.open_notdev = ret(await syscall(NR.open, buf, O_RDWR, 0));
        r.open_efault = ret(await syscall(NR.open, 0x1000, O_RDWR, 0));
        r.write_efault = ret(await syscall(NR.write, 1, 0x1000, 4));
        r.enosys = ret(await syscall(999));
        r.kill_esrch = ret(await syscall(NR.kill, 9999, 9));
        r.kill_einval = ret(await syscall(NR.kill, 1, 99));
        r.read_null = ret(await syscall(NR.read, 0, buf, 16));
        return 0;
      }, new CapturePipe(), new CapturePipe());
      return r;
    });
    expect(result).toEqual({
      bad_fd_write: -EBADF, bad_fd_close: -EBADF, bad_fd_ioctl: -EBADF, neg_fd_read: -EBADF,
      ioctl_null: -ENOTTY,
      munmap_unaligned: -EINVAL, munmap_zero: -EINVAL,
      mmap_zero: -EINVAL, mmap_notype: -EINVAL, mmap_badfd: -EBADF, mmap_unaligned_off: -EINVAL, mmap_null: -ENODEV,
      open_enoent: -ENOENT, open_notdev: -ENOENT, open_efault: -EFAULT, write_efault: -EFAULT,
      enosys: -ENOSYS, kill_esrch: -ESRCH, kill_einval: -EINVAL, read_null: 0,
    });
  });

  it("a process that maps and touches memory and exits leaves free_page_count unchanged", async () => {
    const { result } = await run_kernel(async (k) => {
      const before = k.free_page_count();
      const st = await k.run_process("toucher", async () => {
        const a = await mmap_anon(64 * 4096);
        for (let i = 0; i < 64; i++) user_store(a + i * 4096, enc("x"));
        const b = await mmap_anon(3 * 4096);
        user_store(b, enc("y"));
        // unmap the middle of a, leaving two pieces mapped
        const r = ret(await syscall(NR.munmap, a + 8 * 4096, 8 * 4096));
        if (r !== 0) return 1;
        return 0;
      }, new CapturePipe(), new CapturePipe());
      return { st, after: k.free_page_count(), before };
    });
    expect(result.st.exit_code).toBe(0);
    expect(result.after).toBe(result.before);
  });

  it("munmap frees pages at once; touching unmapped memory is SIGSEGV", async () => {
    const { result } = await run_kernel(async (k) => {
      let mid = 0, end = 0;
      const before = k.free_page_count();
      const st = await k.run_process("segv", async () => {
        const a = await mmap_anon(16 * 4096);
        for (let i = 0; i < 16; i++) user_store(a + i * 4096, enc("x"));
        mid = k.free_page_count();
        await syscall(NR.munmap, a, 16 * 4096);
        end = k.free_page_count();
        user_load(a, new Uint8Array(1));
        return 0;
      }, new CapturePipe(), new CapturePipe());
      return { st, freed: end - mid, leak: before - k.free_page_count() };
    });
    expect(result.st).toEqual({ exit_code: null, signal: 11 });
    expect(result.freed).toBeGreaterThanOrEqual(16);
    expect(result.leak).toBe(0);
  });

  it("a program that throws something else dies of SIGABRT with the error on stderr", async () => {
    const err = new CapturePipe();
    const { result } = await run_kernel(async (k) => k.run_process("buggy", async () => {
      throw new Error("oops in user code");
    }, new CapturePipe(), err));
    expect(result).toEqual({ exit_code: null, signal: 6 });
    expect(err.text()).toMatch(/oops in user code/);
  });

  it("kill -9 of a process blocked in the kernel tears it down", async () => {
    const { result, k } = await run_kernel(async (k) => {
      const before = k.free_page_count();
      const pid = await k.spawn_process("sleeper", async () => {
        const a = await mmap_anon(4 * 4096);
        user_store(a, enc("z"));
        await syscall(NR.pause);
        return 0;
      }, new CapturePipe(), new CapturePipe());
      // let it block in pause()
      for (let i = 0; i < 10; i++) await yield_(k);
      const state = k.pids.get(pid)!.state;
      const r = k.kill(pid, 9);
      const st = await k.wait_process(pid);
      return { st, r, state, leak: before - k.free_page_count() };
    });
    expect(result.state).toBe(1); // TASK_INTERRUPTIBLE
    expect(result.r).toBe(0);
    expect(result.st).toEqual({ exit_code: null, signal: 9 });
    expect(result.leak).toBe(0);
    expect(k.pids.size).toBe(0);
  });

  it("a caught signal interrupts pause() with EINTR and the process goes on", async () => {
    const { result } = await run_kernel(async (k) => {
      let r = 0;
      const pid = await k.spawn_process("p", async () => {
        r = ret(await syscall(NR.pause));
        return 5;
      }, new CapturePipe(), new CapturePipe());
      for (let i = 0; i < 10; i++) await yield_(k);
      k.kill(pid, 14);
      const st = await k.wait_process(pid);
      return { st, r };
    });
    expect(result.r).toBe(-4);
    expect(result.st.exit_code).toBe(5);
  });

  it("many seeds: three processes on two CPUs, one killed mid-run, leave nothing behind", async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const { result } = await run_kernel(async (k) => {
        const before = k.free_page_count();
        const out = new CapturePipe();
        const prog = (s: string, n: number) => async () => {
          const b = await mmap_anon(3 * 4096);
          for (let i = 0; i < n; i++) {
            user_store(b + (i % 3) * 4096, enc(s));
            await syscall(NR.write, 1, b + (i % 3) * 4096, 1);
            await syscall(NR.getpid);
          }
          return 0;
        };
        const pids = [await k.spawn_process("a", prog("a", 30), out, out), await k.spawn_process("b", prog("b", 30), out, out),
          await k.spawn_process("c", prog("c", 1000000), out, out)];
        for (let i = 0; i < seed; i++) await yield_(k);
        k.kill(pids[2], 9);
        const st = [];
        for (const p of pids) st.push(await k.wait_process(p));
        return { st, leak: before - k.free_page_count(), text: out.text(), left: k.pids.size };
      }, { ncpus: 2, seed });
      expect(result.st.slice(0, 2), `seed ${seed}`).toEqual([{ exit_code: 0, signal: null }, { exit_code: 0, signal: null }]);
      expect(result.st[2], `seed ${seed}`).toEqual({ exit_code: null, signal: 9 });
      expect(result.leak, `seed ${seed}`).toBe(0);
      expect(result.text.replace(/c/g, "").length).toBe(60);
    }
  });

  it("a process that touches more memory than the machine has is OOM-killed and leaks nothing", async () => {
    const { result, k } = await run_kernel(async (k) => {
      const before = k.free_page_count();
      let touched = 0;
      const st = await k.run_process("hog", async () => {
        const a = await mmap_anon(64 << 20);
        for (let i = 0; i < (64 << 20) / 4096; i++, touched++) user_store(a + i * 4096, enc("x"));
        return 0;
      }, new CapturePipe(), new CapturePipe());
      return { st, touched, leak: before - k.free_page_count(), before };
    }, { ram_mb: 8 });
    expect(result.st).toEqual({ exit_code: null, signal: 9 });
    expect(result.touched).toBeGreaterThan(result.before - 40);
    expect(result.leak).toBe(0);
    expect(k.dmesg()).toMatch(/hog: page allocation failure: order:0/);
  });

  it("processes on two CPUs", async () => {
    const { result } = await run_kernel(async (k) => {
      const before = k.free_page_count();
      const out = new CapturePipe();
      const prog = (s: string) => async () => {
        const b = await mmap_anon(4096);
        for (let i = 0; i < 5; i++) {
          user_store(b, enc(s));
          await syscall(NR.write, 1, b, 1);
        }
        return 0;
      };
      const a = await k.spawn_process("a", prog("a"), out, out);
      const b = await k.spawn_process("b", prog("b"), out, out);
      await k.wait_process(a);
      await k.wait_process(b);
      return { text: out.text(), leak: before - k.free_page_count() };
    }, { ncpus: 2 });
    expect(result.text.split("").sort().join("")).toBe("aaaaabbbbb");
    expect(result.leak).toBe(0);
  });
});
