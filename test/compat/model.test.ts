// Model-based test of the shim: the same Linux driver (lkpitest_driver.ts, written only
// against compat/linux) and the same user program run on host-freebsd through
// linuxkpi and on host-linux natively. The results must agree, except where the shim
// documents a DIVERGENCE, which the test pins down explicitly.

import { describe, expect, it } from "vitest";
import { Machine } from "../../machine/engine.js";
import { CapturePipe } from "../../machine/host_pipe.js";
import { freebsd_boot } from "../../host-freebsd/kern/init_main.js";
import { linuxkpi_kld, linux_kld } from "../../compat/linuxkpi/linuxkpi_kld.js";
import { linux_boot } from "../../host-linux/init/main.js";
import type { LinuxkpiConfig } from "../../compat/linuxkpi/linux_config.js";
import { _IO } from "../../include/uapi/asm-generic/ioctl.js";
import {
  lkpitest_module, LKPITEST_STRUCT, LKPITEST_VALUE, LKPITEST_WRITE_THEN_FAIL, LKPITEST_NEWFD, LKPITEST_EAGAIN, LKPITEST_OVERRUN,
  LKPITEST_PAGE0, LKPITEST_PAGE1, LKPITEST_TYPE, LKPITEST_GUP,
} from "./lkpitest_driver.js";
import { call, freebsd_os, linux_os, uload, user_store, ustr, val, type os, type outcome } from "./model_os.js";
import fc from "fast-check";
import type { IoctlDef } from "../../include/uapi/asm-generic/ioctl.js";
import { fork_exec } from "../../host-freebsd/kern/kern_exec.js";
import { kern_wait } from "../../host-freebsd/kern/kern_exit.js";
import {
  comptest_module, CT_COMPLETE, CT_COMPLETE_ALL, CT_DONE, CT_REINIT, CT_TRY, CT_WAIT, CT_WAIT_TIMEOUT, CT_WAITING,
} from "./comptest_driver.js";

interface results {
  common: Record<string, unknown>;
  divergent: Record<string, unknown>;
}

/** The user program: exercises the device and records what it saw. */
function lkpitest_program(o: os, out: results): () => Promise<number> {
  const r = out.common;
  const d = out.divergent;
  const show = (x: outcome) => ("err" in x ? x.err : x.val);
  return async () => {
    const scratch = val(await call(o, o.nr.mmap, 0, 65536, o.PROT_READ | o.PROT_WRITE, o.MAP_ANON | o.MAP_PRIVATE, -1, 0));
    const path = ustr(scratch, "/dev/lkpitest");
    r.open_missing = show(await call(o, o.nr.open, ustr(scratch + 64, "/dev/lkpitest_nope"), o.O_RDWR));
    const fd = val(await call(o, o.nr.open, path, o.O_RDWR));
    const ioctl = (f: number, cmd: number, arg: number | bigint) => call(o, o.nr.ioctl, f, cmd, arg);
    // Struct in, modified, out; positive return value.
    const arg = scratch + 128;
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setUint32(0, 5, true);
    v.setBigUint64(8, 0x0123456789abcdefn, true);
    user_store(arg, b);
    r.struct_ret = show(await ioctl(fd, o.ioctl_cmd(LKPITEST_STRUCT), arg));
    const back = new DataView(uload(arg, 16).buffer);
    r.struct_out = [back.getUint32(0, true), back.getUint32(4, true), back.getBigUint64(8, true).toString(16)];
    r.struct_efault = show(await ioctl(fd, o.ioctl_cmd(LKPITEST_STRUCT), 0x7000_0000));
    r.value = show(await ioctl(fd, o.ioctl_cmd(LKPITEST_VALUE), 7));
    r.eagain = show(await ioctl(fd, o.ioctl_cmd(LKPITEST_EAGAIN), 0));
    r.unknown = show(await ioctl(fd, o.ioctl_cmd(_IO("X", LKPITEST_TYPE, 99)), 0));
    r.badfd = show(await ioctl(99, o.ioctl_cmd(LKPITEST_VALUE), 1));
    // A new fd on an anonymous inode.
    const fd2 = val(await ioctl(fd, o.ioctl_cmd(LKPITEST_NEWFD), 5));
    r.newfd_is_next = fd2 === fd + 1;
    r.child_value = show(await ioctl(fd2, o.ioctl_cmd(LKPITEST_VALUE), 9));
    r.child_unknown = show(await ioctl(fd2, o.ioctl_cmd(LKPITEST_EAGAIN), 0));
    r.newfd_einval = show(await ioctl(fd, o.ioctl_cmd(LKPITEST_NEWFD), 500));
    // Documented divergences.
    const wf = scratch + 256;
    user_store(wf, new Uint8Array(8).fill(0x11));
    d.write_then_fail = show(await ioctl(fd, o.ioctl_cmd(LKPITEST_WRITE_THEN_FAIL), wf));
    d.write_then_fail_buf = uload(wf, 1)[0];
    d.overrun = show(await ioctl(fd, o.ioctl_cmd(LKPITEST_OVERRUN), scratch + 512));
    // get_user_pages_fast: two mapped pages, then a range whose second page is a hole.
    const two = val(await call(o, o.nr.mmap, 0, 8192, o.PROT_READ | o.PROT_WRITE, o.MAP_ANON | o.MAP_PRIVATE, -1, 0));
    r.gup = show(await ioctl(fd, o.ioctl_cmd(LKPITEST_GUP), two));
    r.gup_seen = new TextDecoder().decode(uload(two, 4)) + new TextDecoder().decode(uload(two + 4096, 4));
    const hole = val(await call(o, o.nr.mmap, 0, 8192, o.PROT_READ | o.PROT_WRITE, o.MAP_ANON | o.MAP_PRIVATE, -1, 0));
    await call(o, o.nr.munmap, hole + 4096, 4096);
    d.gup_partial = show(await ioctl(fd, o.ioctl_cmd(LKPITEST_GUP), hole));
    // mmap: pages from the driver's vm_ops.fault.
    const m = val(await call(o, o.nr.mmap, 0, 8192, o.PROT_READ | o.PROT_WRITE, o.MAP_SHARED, fd, 0));
    const dec = (a: number, n: number) => new TextDecoder().decode(uload(a, n));
    r.page0 = dec(m, LKPITEST_PAGE0.length);
    r.page1 = dec(m + 4096, LKPITEST_PAGE1.length);
    user_store(m + 100, new TextEncoder().encode("user wrote"));
    r.munmap = show(await call(o, o.nr.munmap, m, 8192));
    const m2 = val(await call(o, o.nr.mmap, 0, 4096, o.PROT_READ, o.MAP_SHARED, fd, 0));
    r.persisted = dec(m2 + 100, 10);
    r.mmap_too_big = show(await call(o, o.nr.mmap, 0, 3 * 4096, o.PROT_READ, o.MAP_SHARED, fd, 0));
    r.close2 = show(await call(o, o.nr.close, fd2));
    r.close = show(await call(o, o.nr.close, fd));
    r.close_again = show(await call(o, o.nr.close, fd));
    return 0;
  };
}

async function run_on_freebsd(seed: number, config: Partial<LinuxkpiConfig> = {}) {
  const machine = new Machine({ ncpus: 2, ram_bytes: 32 << 20, seed });
  const kern = freebsd_boot(machine);
  const out: results = { common: {}, divergent: {} };
  const facts: Record<string, unknown> = {};
  kern.start(async () => {
    kern.install_kld(linuxkpi_kld(config));
    kern.install_kld(linux_kld(lkpitest_module));
    facts.api_before = machine.kernel_symbols!("linux_kernel_api") !== undefined;
    facts.load = await kern.kldload("lkpitest");
    facts.api_after = machine.kernel_symbols!("linux_kernel_api") !== undefined;
    const before = kern.free_page_count();
    const so = new CapturePipe();
    facts.status = await kern.run_process("lkpitest", lkpitest_program(freebsd_os, out), so, so);
    facts.stderr = so.text();
    facts.leak = before - kern.free_page_count();
    facts.unload_kpi_busy = await kern.kldunload("linuxkpi");
    facts.unload = await kern.kldunload("lkpitest");
    facts.api_gone = machine.kernel_symbols!("linux_kernel_api") === undefined;
  });
  await machine.run();
  facts.dmesg = kern.dmesg();
  return { out, facts };
}

async function run_on_linux(seed: number) {
  const machine = new Machine({ ncpus: 2, ram_bytes: 32 << 20, seed });
  const k = linux_boot(machine);
  const out: results = { common: {}, divergent: {} };
  const facts: Record<string, unknown> = {};
  k.start(async () => {
    facts.load = await k.load_kvm(lkpitest_module);
    const before = k.free_page_count();
    const so = new CapturePipe();
    facts.status = await k.run_process("lkpitest", lkpitest_program(linux_os, out), so, so);
    facts.stderr = so.text();
    facts.leak = before - k.free_page_count();
    facts.unload = await k.unload_kvm("lkpitest");
  });
  await machine.run();
  return { out, facts };
}

describe("model-based: one Linux driver, one user program, two kernels", () => {
  it("on host-freebsd through linuxkpi", async () => {
    const { out, facts } = await run_on_freebsd(7);
    expect(facts.stderr).toBe("");
    expect(facts.status).toEqual({ exit_code: 0, signal: null });
    expect(facts).toMatchObject({ api_before: false, load: 0, api_after: true, leak: 0, unload_kpi_busy: 16, unload: 0, api_gone: true });
    expect(facts.dmesg).toContain("lkpitest: registered misc minor 63");
    expect(out.common).toEqual({
      open_missing: "ENOENT",
      struct_ret: 42,
      struct_out: [6, 12, (~0x0123456789abcdefn & 0xffffffffffffffffn).toString(16)],
      struct_efault: "EFAULT",
      value: 21,
      eagain: "EAGAIN",
      unknown: "ENOTTY",
      badfd: "EBADF",
      newfd_is_next: true,
      child_value: 5009,
      child_unknown: "ENOTTY",
      newfd_einval: "EINVAL",
      page0: LKPITEST_PAGE0,
      page1: LKPITEST_PAGE1,
      munmap: 0,
      persisted: "user wrote",
      mmap_too_big: "EINVAL",
      gup: 2,
      gup_seen: "gup!gup!",
      close2: 0,
      close: 0,
      close_again: "EBADF",
    });
    // DIVERGENCE (linux_file_ioctl): an IOC_OUT argument is not copied out on failure.
    expect(out.divergent.write_then_fail).toBe("EAGAIN");
    expect(out.divergent.write_then_fail_buf).toBe(0x11);
    // DIVERGENCE (linux_remap_address): writing past the declared argument is EFAULT.
    expect(out.divergent.overrun).toBe("EFAULT");
    // DIVERGENCE (linux_get_user_pages_fast): all or nothing.
    expect(out.divergent.gup_partial).toBe("EFAULT");
  });

  it("on host-linux, and both agree outside the documented divergences", async () => {
    const fb = await run_on_freebsd(7);
    const lx = await run_on_linux(7);
    expect(lx.facts.stderr).toBe("");
    expect(lx.facts.status).toEqual({ exit_code: 0, signal: null });
    expect(lx.facts.load).toBe(0);
    expect(lx.facts.leak).toBe(0);
    expect(lx.facts.unload).toBe(0);
    expect(lx.out.common).toEqual(fb.out.common);
    expect(lx.out.divergent).toEqual({ write_then_fail: "EAGAIN", write_then_fail_buf: 0xab, overrun: 0, gup_partial: 1 });
  });

  it("with the registered_area preset (2007 port), copies past the argument reach user memory as on Linux", async () => {
    const fb = await run_on_freebsd(7, { ioctl_user_copy: "registered_area" });
    const lx = await run_on_linux(7);
    expect(fb.facts.leak).toBe(0);
    expect(fb.out.common).toEqual(lx.out.common);
    expect(fb.out.divergent).toEqual({ write_then_fail: "EAGAIN", write_then_fail_buf: 0x11, overrun: 0, gup_partial: "EFAULT" });
  });

  it("is deterministic: the same seed gives the same FreeBSD message buffer", async () => {
    const a = await run_on_freebsd(3);
    const b = await run_on_freebsd(3);
    expect(a.facts.dmesg).toBe(b.facts.dmesg);
  });
});

// Completions: one driver (comptest_driver.ts) and the same four processes on both
// kernels. Two waiters sleep on completion 0 and then on 2, a third waits on 1 with a
// long timeout; a controller wakes them one at a time (complete), all at once
// (complete_all), and exercises counting, reinit and a timeout that expires.
interface comp_results {
  ctl: Record<string, unknown>;
  /** The rank each waiter woke with, per completion. */
  ranks0: number[];
  ranks2: number[];
  w3: number | null;
}

function comptest_programs(o: os, r: comp_results): [string, () => Promise<number>][] {
  const open_dev = async () => {
    const scratch = val(await call(o, o.nr.mmap, 0, 4096, o.PROT_READ | o.PROT_WRITE, o.MAP_ANON | o.MAP_PRIVATE, -1, 0));
    return val(await call(o, o.nr.open, ustr(scratch, "/dev/comptest"), o.O_RDWR));
  };
  const ioctl = async (fd: number, d: IoctlDef, arg: number) => val(await call(o, o.nr.ioctl, fd, o.ioctl_cmd(d), arg));
  /** Until `n` tasks sleep in a wait on completion `i`. */
  const until_waiting = async (fd: number, i: number, n: number) => {
    for (let tries = 0; (await ioctl(fd, CT_WAITING, i)) !== n; tries++) if (tries > 100_000) throw new Error(`completion ${i}: never ${n} waiters`);
  };
  const waiter = async () => {
    const fd = await open_dev();
    r.ranks0.push(await ioctl(fd, CT_WAIT, 0));
    r.ranks2.push(await ioctl(fd, CT_WAIT, 2));
    return 0;
  };
  const timed_waiter = async () => {
    const fd = await open_dev();
    r.w3 = await ioctl(fd, CT_WAIT_TIMEOUT, 1 | (10_000 << 4));
    return 0;
  };
  const ctl = async () => {
    const c = r.ctl;
    const fd = await open_dev();
    c.initial = [await ioctl(fd, CT_DONE, 1), await ioctl(fd, CT_TRY, 1)];
    await until_waiting(fd, 0, 2);
    await until_waiting(fd, 1, 1);
    await ioctl(fd, CT_COMPLETE, 0);
    await until_waiting(fd, 0, 1);
    await ioctl(fd, CT_COMPLETE, 0);
    await until_waiting(fd, 0, 0);
    await ioctl(fd, CT_COMPLETE, 1);
    await until_waiting(fd, 1, 0);
    await until_waiting(fd, 2, 2);
    await ioctl(fd, CT_COMPLETE_ALL, 2);
    await until_waiting(fd, 2, 0);
    c.all = [await ioctl(fd, CT_DONE, 2), await ioctl(fd, CT_TRY, 2), await ioctl(fd, CT_TRY, 2), await ioctl(fd, CT_WAIT, 2)];
    await ioctl(fd, CT_REINIT, 2);
    c.reinit = [await ioctl(fd, CT_DONE, 2), await ioctl(fd, CT_TRY, 2)];
    c.timeout = await ioctl(fd, CT_WAIT_TIMEOUT, 3 | (5 << 4));
    await ioctl(fd, CT_COMPLETE, 3);
    await ioctl(fd, CT_COMPLETE, 3);
    c.count = [await ioctl(fd, CT_DONE, 3), await ioctl(fd, CT_TRY, 3), await ioctl(fd, CT_WAIT, 3), await ioctl(fd, CT_TRY, 3)];
    return 0;
  };
  return [["w1", waiter], ["w2", waiter], ["w3", timed_waiter], ["ctl", ctl]];
}

const new_comp_results = (): comp_results => ({ ctl: {}, ranks0: [], ranks2: [], w3: null });

async function comptest_on_linux(seed: number) {
  const machine = new Machine({ ncpus: 2, ram_bytes: 32 << 20, seed });
  const k = linux_boot(machine);
  const r = new_comp_results();
  const facts: Record<string, unknown> = {};
  k.start(async () => {
    facts.load = await k.load_kvm(comptest_module);
    const so = new CapturePipe();
    const pids: number[] = [];
    for (const [comm, program] of comptest_programs(linux_os, r)) pids.push(await k.spawn_process(comm, program, so, so));
    const statuses: unknown[] = [];
    for (const pid of pids) {
      const st = await k.wait_process(pid);
      statuses.push(st.exit_code === 0 && st.signal === null ? 0 : st);
    }
    facts.statuses = statuses;
    facts.output = so.text();
    facts.unload = await k.unload_kvm("comptest");
  });
  await machine.run();
  facts.dmesg = k.dmesg();
  return { r, facts };
}

async function comptest_on_freebsd(seed: number) {
  const machine = new Machine({ ncpus: 2, ram_bytes: 32 << 20, seed });
  const kern = freebsd_boot(machine);
  const r = new_comp_results();
  const facts: Record<string, unknown> = {};
  kern.start(async () => {
    kern.install_kld(linuxkpi_kld());
    kern.install_kld(linux_kld(comptest_module));
    facts.load = await kern.kldload("comptest");
    const so = new CapturePipe();
    const procs = comptest_programs(freebsd_os, r).map(([comm, program]) => fork_exec(comm, program, so, so).p!);
    const statuses: unknown[] = [];
    for (const p of procs) statuses.push((await kern_wait(p.p_pid)).p!.p_xexit);
    facts.statuses = statuses;
    facts.output = so.text();
    facts.unload = await kern.kldunload("comptest");
  });
  await machine.run();
  facts.dmesg = kern.dmesg();
  return { r, facts };
}

describe("model-based: completions through the shim and on host-linux", () => {
  const expected = {
    ctl: { initial: [0, 0], all: [1, 1, 1, 3], reinit: [0, 0], timeout: 0, count: [1, 1, 1, 0] },
    ranks0: [1, 2],
    ranks2: [1, 2],
    w3: 1,
  };
  it("both kernels give the same results, any seed", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        for (const run of [comptest_on_linux, comptest_on_freebsd]) {
          const { r, facts } = await run(seed);
          expect(facts, run.name).toMatchObject({ load: 0, statuses: [0, 0, 0, 0], output: "", unload: 0 });
          expect({ ...r, ranks0: [...r.ranks0].sort(), ranks2: [...r.ranks2].sort() }, run.name).toEqual(expected);
        }
      }),
      { numRuns: 4 },
    );
  });

  it("host-linux's lockdep stays silent for the driver", async () => {
    const { facts } = await comptest_on_linux(3);
    expect(facts.dmesg).not.toMatch(/^<\d>\[[ \d.]+\] (WARNING|BUG):/m);
  });
});
