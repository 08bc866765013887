// Processes, system calls, devfs, the file table and sys_ioctl's copy semantics.

import { describe, expect, it } from "vitest";
import { CapturePipe } from "../../machine/host_pipe.js";
import { user_load, user_store } from "../../machine/syscall.js";
import { run_main, type booted } from "./helpers.js";
import { umem, open, close, read, write, ioctl, mmap, munmap, getpid, kill, exit, sys, load } from "./ulibc.js";
import { O_RDWR, O_RDONLY } from "../../host-freebsd/sys/fcntl.js";
import { MAP_ANON, MAP_SHARED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../../host-freebsd/sys/mman.js";
import { EBADF, EFAULT, EINTR, EINVAL, ENOENT, ENOSYS, ENOTTY, ESRCH, EIO, ENXIO } from "../../host-freebsd/sys/errno.js";
import { SIGABRT, SIGKILL, SIGSEGV, SIGUSR1 } from "../../host-freebsd/sys/signal.js";
import { D_VERSION, type cdevsw } from "../../host-freebsd/sys/conf.js";
import { make_dev, destroy_dev } from "../../host-freebsd/kern/kern_conf.js";
import { _IOC, _IOR, _IOW, _IOWR, _IO, _IOWINT, IOC_VOID, IOC_IN, IOCPARM_MASK } from "../../host-freebsd/sys/ioccom.js";
import { PCATCH, tsleep, pause } from "../../host-freebsd/kern/kern_synch.js";
import { fork_exec } from "../../host-freebsd/kern/kern_exec.js";
import { kern_wait } from "../../host-freebsd/kern/kern_exit.js";
import { kern_kill } from "../../host-freebsd/kern/kern_sig.js";
import { curthread } from "../../host-freebsd/sys/pcpu.js";
import { VM_ALLOC_WIRED, VM_ALLOC_ZERO, vm_page_alloc_noobj, vm_page_unwire_free, type vm_page } from "../../host-freebsd/vm/vm_page.js";
import type { UserProgram } from "../../host-freebsd/kern/kern_exec.js";
import { SYS_getpid } from "../../host-freebsd/sys/syscall.js";

async function run_prog(b: booted, prog: UserProgram) {
  const out = new CapturePipe();
  const err = new CapturePipe();
  const st = await b.kern.run_process("prog", prog, out, err);
  return { st, out: out.text(), err: err.text() };
}

/** Run one user program under a fresh kernel; also reports whether every page came back. */
async function run_one(prog: UserProgram, setup?: (b: booted) => Promise<void> | void) {
  const { result } = await run_main(async (b) => {
    if (setup) await setup(b);
    const before = b.kern.free_page_count();
    const r = await run_prog(b, prog);
    return { ...r, leak: before - b.kern.free_page_count() };
  });
  return result;
}

describe("processes and basic system calls", () => {
  it("write to stdout, exit status, and no page leaked", async () => {
    const r = await run_one(async () => {
      const m = await umem.create();
      const s = new TextEncoder().encode("hello from freebsd\n");
      await write(1, m.bytes(s), s.length);
      const e = new TextEncoder().encode("to stderr\n");
      await write(2, m.bytes(e), e.length);
      return 3;
    });
    expect(r.st).toEqual({ exit_code: 3, signal: null });
    expect(r.out).toBe("hello from freebsd\n");
    expect(r.err).toBe("to stderr\n");
    expect(r.leak).toBe(0);
  });

  it("exit(2) ends the process at once", async () => {
    const r = await run_one(async () => {
      await exit(7);
      return 99;
    });
    expect(r.st.exit_code).toBe(7);
  });

  it("getpid, unknown syscalls give ENOSYS with carry", async () => {
    const r = await run_one(async () => {
      const pid = await getpid();
      const bad = await sys(9999);
      return pid.val > 11 && bad.err === ENOSYS && bad.val === -1 ? 0 : 1;
    });
    expect(r.st.exit_code).toBe(0);
  });

  it("open/read/write/close on devfs and their errors", async () => {
    const r = await run_one(async () => {
      const m = await umem.create();
      const res: number[] = [];
      const fd = await open(m, "/dev/null", O_RDWR);
      res.push(fd.val);
      const buf = m.alloc(64);
      res.push((await read(fd.val, buf, 64)).val);
      res.push((await write(fd.val, buf, 64)).val);
      res.push((await open(m, "/dev/nope", O_RDWR)).err);
      res.push((await open(m, "/etc/passwd", O_RDONLY)).err);
      res.push((await close(fd.val)).err);
      res.push((await close(fd.val)).err);
      res.push((await read(42, buf, 1)).err);
      const z = await open(m, "/dev/zero", O_RDONLY);
      res.push((await read(z.val, 0x1234_0000, 16)).err);
      res.push((await write(z.val, buf, 1)).err);
      return res.join(",") === [3, 0, 64, ENOENT, ENOENT, 0, EBADF, EBADF, EFAULT, EBADF].join(",") ? 0 : (console.log(res), 1);
    });
    expect(r.st.exit_code).toBe(0);
  });

  it("anonymous mmap is zero-filled; after munmap an access is SIGSEGV; pages are freed", async () => {
    const r = await run_one(async () => {
      const a = await mmap(3 * 4096, PROT_READ | PROT_WRITE, MAP_ANON | MAP_SHARED, -1, 0);
      const z = load(a.val + 5000, 8);
      user_store(a.val + 8190, new Uint8Array([1, 2, 3, 4]));
      const back = load(a.val + 8190, 4);
      if (!z.every((v) => v === 0) || back[3] !== 4) return 1;
      const bad = [
        (await mmap(0, PROT_READ, MAP_ANON | MAP_PRIVATE, -1, 0)).err,
        (await mmap(4096, PROT_READ, MAP_ANON | MAP_PRIVATE, 5, 0)).err,
        (await munmap(a.val + 1, 4096)).err,
      ];
      if (bad.join() !== [EINVAL, EINVAL, EINVAL].join()) return 2;
      await munmap(a.val, 3 * 4096);
      user_load(a.val, new Uint8Array(1));
      return 0;
    });
    expect(r.st).toEqual({ exit_code: null, signal: SIGSEGV });
    expect(r.leak).toBe(0);
  });

  it("a program that throws dies of SIGABRT with the error on stderr", async () => {
    const r = await run_one(async () => {
      throw new Error("assertion failed in the VMM");
    });
    expect(r.st).toEqual({ exit_code: null, signal: SIGABRT });
    expect(r.err).toContain("assertion failed in the VMM");
    expect(r.leak).toBe(0);
  });

  it("kill: ESRCH for a missing pid; SIGKILL of oneself ends at syscall return", async () => {
    const r = await run_one(async () => {
      if ((await kill(4242, SIGKILL)).err !== ESRCH) return 1;
      const me = (await getpid()).val;
      await kill(me, SIGKILL);
      return 2;
    });
    expect(r.st).toEqual({ exit_code: null, signal: SIGKILL });
  });
});

// A test driver whose ioctls record what sys_ioctl handed them.
function test_driver(log: { data: Uint8Array | null; calls: number; closes: number }, frames: vm_page[]): cdevsw {
  return {
    d_version: D_VERSION,
    d_name: "ioctltest",
    async d_close() {
      log.closes++;
      return 0;
    },
    async d_ioctl(_dev, cmd, data, _fflag, td) {
      log.calls++;
      log.data = data.slice();
      const nr = cmd & 0xff;
      if (nr === 1) {
        // IOC_OUT: fill and succeed.
        data.fill(0x5a);
        return 0;
      }
      if (nr === 2) {
        // IOC_OUT but fail: nothing must be copied out.
        data.fill(0x77);
        return EIO;
      }
      if (nr === 3) {
        // INOUT: increment each byte.
        for (let i = 0; i < data.length; i++) data[i]++;
        td.td_retval[0] = 1234n;
        return 0;
      }
      if (nr === 4) return (await tsleep({}, PCATCH, "ioctlsleep", 0)) || 0;
      return 0;
    },
    d_mmap(_dev, offset) {
      const m = frames[offset / 4096];
      return m ? { error: 0, paddr: m.phys_addr } : { error: EINVAL, paddr: 0 as never };
    },
  };
}

describe("sys_ioctl copy semantics", () => {
  const G = 0x74;
  async function with_driver(
    prog: (fd: number, m: umem) => Promise<number>,
    log = { data: null as Uint8Array | null, calls: 0, closes: 0 },
  ) {
    const frames: vm_page[] = [];
    const r = await run_one(
      async () => {
        const m = await umem.create();
        const fd = await open(m, "/dev/ioctltest", O_RDWR);
        if (fd.err) return 100 + fd.err;
        return prog(fd.val, m);
      },
      async () => {
        make_dev(test_driver(log, frames), 0, 0, 0, 0o600, "ioctltest");
      },
    );
    return { r, log };
  }

  it("IOC_IN is copied in before the driver runs", async () => {
    const { r, log } = await with_driver(async (fd, m) => {
      const arg = m.bytes(new Uint8Array([9, 8, 7, 6, 5]));
      return (await ioctl(fd, _IOW(G, 9, 5), arg)).err;
    });
    expect(r.st.exit_code).toBe(0);
    expect([...log.data!]).toEqual([9, 8, 7, 6, 5]);
    expect(log.closes).toBe(1);
  });

  it("IOC_OUT is zeroed for the driver and copied out only on success", async () => {
    const { r, log } = await with_driver(async (fd, m) => {
      const arg = m.bytes(new Uint8Array(6).fill(1));
      const ok = await ioctl(fd, _IOR(G, 1, 6), arg);
      const after_ok = [...load(arg, 6)];
      user_store(arg, new Uint8Array(6).fill(1));
      const bad = await ioctl(fd, _IOR(G, 2, 6), arg);
      const after_bad = [...load(arg, 6)];
      return ok.err === 0 && after_ok.every((v) => v === 0x5a) && bad.err === EIO && after_bad.every((v) => v === 1) ? 0 : 1;
    });
    expect(r.st.exit_code).toBe(0);
    expect([...log.data!]).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("IOC_INOUT round trip, and the driver's td_retval is the syscall's value", async () => {
    const { r } = await with_driver(async (fd, m) => {
      const arg = m.bytes(new Uint8Array([1, 2, 3]));
      const res = await ioctl(fd, _IOWR(G, 3, 3), arg);
      return res.val === 1234 && [...load(arg, 3)].join() === "2,3,4" ? 0 : 1;
    });
    expect(r.st.exit_code).toBe(0);
  });

  it("IOC_VOID int and _IO pass the argument word by value", async () => {
    const log = { data: null as Uint8Array | null, calls: 0, closes: 0 };
    const { r } = await with_driver(async (fd) => {
      await ioctl(fd, _IOWINT(G, 9), 0x12345678);
      const a = log.data!.slice(0, 4);
      await ioctl(fd, _IO(G, 9), 0x42);
      return new DataView(a.buffer).getUint32(0, true) === 0x12345678 && log.data![0] === 0x42 ? 0 : 1;
    }, log);
    expect(r.st.exit_code).toBe(0);
  });

  it("malformed commands are ENOTTY and never reach the driver", async () => {
    const { r, log } = await with_driver(async (fd, m) => {
      const arg = m.alloc(16);
      const errs = [
        (await ioctl(fd, 0xae01, 0)).err, // a raw Linux _IO: no direction bits
        (await ioctl(fd, _IOC(IOC_VOID, G, 9, 8), arg)).err, // IOC_VOID with a non-int size
      ];
      return errs.every((e) => e === ENOTTY) ? 0 : 1;
    });
    expect(r.st.exit_code).toBe(0);
    expect(log.calls).toBe(0);
  });

  it("IOC_IN from an unmapped address is EFAULT before the driver runs (and before the fd lookup); a bad fd is EBADF", async () => {
    const { r, log } = await with_driver(async (fd, m) => {
      const e1 = (await ioctl(fd, _IOW(G, 9, 16), 0x1000)).err;
      // As in FreeBSD, the copyin happens before the descriptor is looked up.
      const e2 = (await ioctl(77, _IOW(G, 9, 16), 0x1000)).err;
      const e3 = (await ioctl(77, _IOW(G, 9, 16), m.alloc(16))).err;
      return e1 === EFAULT && e2 === EFAULT && e3 === EBADF ? 0 : 1;
    });
    expect(r.st.exit_code).toBe(0);
    expect(log.calls).toBe(0);
  });

  it("the largest parameter (IOCPARM_MASK bytes, below IOCPARM_MAX) is copied in full", async () => {
    const { r, log } = await with_driver(async (fd, m) => {
      const big = new Uint8Array(IOCPARM_MASK).map((_, i) => (i * 7) & 0xff);
      return (await ioctl(fd, _IOC(IOC_IN, G, 9, IOCPARM_MASK), m.bytes(big))).err;
    });
    expect(r.st.exit_code).toBe(0);
    expect(log.data!.length).toBe(IOCPARM_MASK);
    expect(log.data![IOCPARM_MASK - 1]).toBe(((IOCPARM_MASK - 1) * 7) & 0xff);
  });

  it("a sign-extended command is truncated to 32 bits with a warning", async () => {
    let dmesg = "";
    const log = { data: null as Uint8Array | null, calls: 0, closes: 0 };
    await run_main(async (b) => {
      make_dev(test_driver(log, []), 0, 0, 0, 0o600, "ioctltest");
      await run_prog(b, async () => {
        const m = await umem.create();
        const fd = await open(m, "/dev/ioctltest", O_RDWR);
        const cmd = BigInt.asUintN(64, BigInt.asIntN(32, BigInt(_IOW(G, 9, 4))));
        return (await ioctl(fd.val, cmd, m.alloc(4))).err;
      });
      dmesg = b.kern.dmesg();
    });
    expect(dmesg).toContain("ioctl sign-extension");
    expect(log.calls).toBe(1);
    void IOC_IN;
  });

  it("a signal interrupts a PCATCH sleep with EINTR; SIGKILL kills the sleeper", async () => {
    const log = { data: null as Uint8Array | null, calls: 0, closes: 0 };
    const { result } = await run_main(async (b) => {
      make_dev(test_driver(log, []), 0, 0, 0, 0o600, "ioctltest");
      const out = new CapturePipe();
      let seen = -1;
      const prog = async () => {
        const m = await umem.create();
        const fd = await open(m, "/dev/ioctltest", O_RDWR);
        seen = (await ioctl(fd.val, _IO(G, 4), 0)).err;
        await ioctl(fd.val, _IO(G, 4), 0);
        return 0;
      };
      const before = b.kern.free_page_count();
      const f = fork_exec("sleeper", prog, out, out);
      await pause("w", 5);
      kern_kill(curthread(), f.p!.p_pid, SIGUSR1);
      await pause("w", 5);
      kern_kill(curthread(), f.p!.p_pid, SIGKILL);
      const w = await kern_wait(f.p!.p_pid);
      return { seen, sig: w.p!.p_xsig, leak: before - b.kern.free_page_count() };
    });
    expect(result).toEqual({ seen: EINTR, sig: SIGKILL, leak: 0 });
    expect(log.closes).toBe(1);
  });

  it("d_mmap device mappings fault in the driver's pages; destroy_dev makes old fds ENXIO", async () => {
    const log = { data: null as Uint8Array | null, calls: 0, closes: 0 };
    const frames: vm_page[] = [];
    const { result } = await run_main(async (b) => {
      for (let i = 0; i < 2; i++) frames.push((await vm_page_alloc_noobj(VM_ALLOC_WIRED | VM_ALLOC_ZERO))!);
      b.machine.ram.write(frames[1].phys_addr, new TextEncoder().encode("page one"));
      const dev = make_dev(test_driver(log, frames), 0, 0, 0, 0o600, "ioctltest");
      const before = b.kern.free_page_count();
      const r = await run_prog(b, async () => {
        const m = await umem.create();
        const fd = (await open(m, "/dev/ioctltest", O_RDWR)).val;
        const a = await mmap(8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        const priv = await mmap(8192, PROT_READ, MAP_PRIVATE, fd, 0);
        const txt = new TextDecoder().decode(load(a.val + 4096, 8));
        user_store(a.val, new Uint8Array([0xee]));
        await sys(SYS_getpid);
        return txt === "page one" && priv.err === EINVAL ? 0 : 1;
      });
      const first = new Uint8Array(1);
      b.machine.ram.read(frames[0].phys_addr, first);
      const leak = before - b.kern.free_page_count();
      const wired = frames.map((f) => f.wire_count);
      // An fd opened before destroy_dev answers ENXIO afterwards.
      let destroyed = false;
      let late = -1;
      const out = new CapturePipe();
      const f = fork_exec("late", async () => {
        const m = await umem.create();
        const fd = (await open(m, "/dev/ioctltest", O_RDWR)).val;
        while (!destroyed) await sys(SYS_getpid);
        late = (await ioctl(fd, _IO(G, 9), 0)).err;
        return 0;
      }, out, out);
      await pause("w", 3);
      await destroy_dev(dev);
      destroyed = true;
      await kern_wait(f.p!.p_pid);
      for (const f of frames) vm_page_unwire_free(b.kern.k, f);
      return { st: r.st, first: first[0], leak, wired, late };
    });
    expect(result.st.exit_code).toBe(0);
    expect(result.first).toBe(0xee);
    expect(result.leak).toBe(0);
    expect(result.wired).toEqual([1, 1]);
    expect(result.late).toBe(ENXIO);
  });
});
