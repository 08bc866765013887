// The shim's debugfs (compat/linuxkpi/linux_debugfs.ts) over host-freebsd's sysctl MIB:
// what a Linux module creates appears as debug.<dir>.<file>, read and written by a
// process with __sysctlbyname(2), and every error path of both sides.

import { describe, expect, it } from "vitest";
import { Machine, MachineStopped } from "../../machine/engine.js";
import { CapturePipe } from "../../machine/host_pipe.js";
import { user_load, user_store } from "../../machine/syscall.js";
import { freebsd_boot, type freebsd_kernel } from "../../host-freebsd/kern/init_main.js";
import { linuxkpi_kld } from "../../compat/linuxkpi/linuxkpi_kld.js";
import { SYS___sysctlbyname } from "../../host-freebsd/sys/syscall.js";
import { EFAULT, EINVAL, EISDIR, ENOENT, ENOMEM, ENOTDIR, EPERM, EAGAIN } from "../../host-freebsd/sys/errno.js";
import { debugfs_create_dir, debugfs_create_file, debugfs_remove_recursive } from "../../compat/linux/debugfs.js";
import { EAGAIN as LEAGAIN, EINVAL as LEINVAL } from "../../compat/linux/errno.js";
import { spinlock_t, spin_lock_init, spin_lock, spin_unlock } from "../../compat/linux/spinlock.js";
import { sys, umem } from "../host-freebsd/ulibc.js";

async function with_lkpi(body: (kern: freebsd_kernel) => Promise<void>): Promise<freebsd_kernel> {
  const machine = new Machine({ ncpus: 2, ram_bytes: 16 << 20, seed: 3 });
  const kern = freebsd_boot(machine);
  let done = false;
  kern.start(async () => {
    kern.install_kld(linuxkpi_kld({}));
    if ((await kern.kldload("linuxkpi")) !== 0) throw new Error("kldload linuxkpi");
    await body(kern);
    done = true;
  });
  await machine.run();
  if (!done) throw new Error("body did not finish");
  return kern;
}

/** A process running `prog`, its status checked. */
async function in_process(kern: freebsd_kernel, prog: () => Promise<void>): Promise<void> {
  const st = await kern.run_process("sysctl", async () => {
    await prog();
    return 0;
  }, new CapturePipe(), new CapturePipe());
  expect(st).toEqual({ exit_code: 0, signal: null });
}

interface sysctl_result {
  err: number;
  len: number;
  bytes: Uint8Array;
}

/** __sysctlbyname(name, strlen(name), old?, &oldlen, new?, newlen). */
async function sysctlbyname(m: umem, name: string, oldlen: number | null, newval: Uint8Array | null = null, opts: { old_null?: boolean; namelen?: number } = {}): Promise<sysctl_result> {
  const nm = new TextEncoder().encode(name);
  const np = m.bytes(nm);
  const old = m.alloc(Math.max(16, oldlen ?? 0));
  user_store(old, new Uint8Array(Math.max(16, oldlen ?? 0)).fill(0xee));
  const lenp = oldlen === null ? 0 : m.alloc(8);
  if (lenp !== 0) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(oldlen!), true);
    user_store(lenp, b);
  }
  const newp = newval === null ? 0 : m.bytes(newval);
  const r = await sys(SYS___sysctlbyname, np, opts.namelen ?? nm.length, opts.old_null ? 0 : old, lenp, newp, newval?.length ?? 0);
  let len = -1;
  if (lenp !== 0) {
    const b = new Uint8Array(8);
    user_load(lenp, b);
    len = Number(new DataView(b.buffer).getBigUint64(0, true));
  }
  const bytes = new Uint8Array(Math.max(16, oldlen ?? 0));
  user_load(old, bytes);
  return { err: r.err, len, bytes };
}

const u64 = (v: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
};
const as_u64 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);

describe("debugfs over sysctl (linuxkpi)", () => {
  it("a module's simple attributes read as u64 sysctl leaves under debug.<dir>", async () => {
    const r: Record<string, unknown> = {};
    const stats = { exits: 42n, halt: 7n };
    await with_lkpi(async (kern) => {
      const dir = debugfs_create_dir("kvm", null);
      r.dir = dir?.d_name;
      r.f1 = debugfs_create_file("exits", 0o444, dir, "exits", { get: (d) => stats[d as "exits"] })?.d_name;
      debugfs_create_file("halt_exits", 0o444, dir, "halt", { get: async (d) => stats[d as "halt"] });
      debugfs_create_file("signed", 0o444, dir, null, { get: () => -3n, fmt: "%lld\n" });
      const vm = debugfs_create_dir("100004-4", dir);
      debugfs_create_file("exits", 0o444, vm, null, { get: () => 5n });
      await in_process(kern, async () => {
        const m = await umem.create();
        const a = await sysctlbyname(m, "debug.kvm.exits", 8);
        r.exits = [a.err, a.len, as_u64(a.bytes)];
        stats.exits = 43n;
        r.moved = as_u64((await sysctlbyname(m, "debug.kvm.exits", 8)).bytes);
        r.halt = as_u64((await sysctlbyname(m, "debug.kvm.halt_exits", 8)).bytes);
        r.signed = as_u64((await sysctlbyname(m, "debug.kvm.signed", 8)).bytes);
        r.vm = as_u64((await sysctlbyname(m, "debug.kvm.100004-4.exits", 8)).bytes);
        // The size question: oldp NULL.
        const q = await sysctlbyname(m, "debug.kvm.exits", 0, null, { old_null: true });
        r.size = [q.err, q.len];
        // A short buffer: the prefix is copied, ENOMEM, *oldlenp = what was copied.
        const s = await sysctlbyname(m, "debug.kvm.exits", 4);
        r.short = [s.err, s.len, [...s.bytes.subarray(0, 5)]];
        // A larger buffer: 8 bytes produced.
        r.large = (await sysctlbyname(m, "debug.kvm.exits", 16)).len;
        r.ostype = new TextDecoder().decode((await sysctlbyname(m, "kern.ostype", 16)).bytes.subarray(0, 8));
      });
    });
    expect(r.dir).toBe("kvm");
    expect(r.f1).toBe("exits");
    expect(r.exits).toEqual([0, 8, 42n]);
    expect(r.moved).toBe(43n);
    expect(r.halt).toBe(7n);
    expect(r.signed).toBe(BigInt.asUintN(64, -3n)); // DIVERGENCE: no %lld text, the raw two's complement
    expect(r.vm).toBe(5n);
    expect(r.size).toEqual([0, 8]);
    expect(r.short).toEqual([ENOMEM, 4, [43, 0, 0, 0, 0xee]]);
    expect(r.large).toBe(8);
    expect(r.ostype).toBe("FreeBSD\0");
  });

  it("lookup and access errors: ENOENT, EISDIR, ENOTDIR, EPERM, EFAULT, EINVAL", async () => {
    const r: Record<string, number> = {};
    await with_lkpi(async (kern) => {
      const dir = debugfs_create_dir("kvm", null);
      debugfs_create_file("exits", 0o444, dir, null, { get: () => 1n });
      await in_process(kern, async () => {
        const m = await umem.create();
        r.missing = (await sysctlbyname(m, "debug.kvm.nope", 8)).err;
        r.empty = (await sysctlbyname(m, "", 8)).err;
        r.node = (await sysctlbyname(m, "debug.kvm", 8)).err;
        r.below_leaf = (await sysctlbyname(m, "debug.kvm.exits.x", 8)).err;
        r.write_ro = (await sysctlbyname(m, "debug.kvm.exits", 8, u64(5n))).err;
        r.bad_name_ptr = (await sys(SYS___sysctlbyname, 0x10, 5, 0, 0, 0, 0)).err;
        r.bad_namelen = (await sys(SYS___sysctlbyname, m.str("debug"), -1, 0, 0, 0, 0)).err;
        r.long_name = (await sys(SYS___sysctlbyname, m.str("debug"), 1025, 0, 0, 0, 0)).err;
        r.trailing_dot = (await sysctlbyname(m, "debug.kvm.", 8)).err;
        r.bad_old = (await sys(SYS___sysctlbyname, m.str("debug.kvm.exits"), 15, 0x10, m.bytes(u64(8n)), 0, 0)).err;
      });
    });
    expect(r).toEqual({ missing: ENOENT, empty: EINVAL, node: EISDIR, below_leaf: ENOTDIR, write_ro: EPERM, bad_name_ptr: EFAULT, bad_namelen: EINVAL, long_name: EINVAL, trailing_dot: ENOENT, bad_old: EFAULT });
  });

  it("a writable attribute takes a u64 through set(), with its -errno translated", async () => {
    const r: Record<string, unknown> = {};
    let value = 1n;
    await with_lkpi(async (kern) => {
      const dir = debugfs_create_dir("knobs", null);
      debugfs_create_file("v", 0o644, dir, null, {
        get: () => value,
        set: (_d, v) => {
          if (v === 99n) return -LEINVAL;
          if (v === 98n) return -LEAGAIN;
          value = v;
          return 0;
        },
      });
      // No set(): read-only whatever the mode says.
      debugfs_create_file("ro", 0o644, dir, null, { get: () => 0n });
      await in_process(kern, async () => {
        const m = await umem.create();
        const w = await sysctlbyname(m, "debug.knobs.v", 8, u64(7n));
        r.write = [w.err, as_u64(w.bytes)]; // the old value comes back, as sysctl(8) shows "1 -> 7"
        r.after = as_u64((await sysctlbyname(m, "debug.knobs.v", 8)).bytes);
        r.einval = (await sysctlbyname(m, "debug.knobs.v", 8, u64(99n))).err;
        r.eagain = (await sysctlbyname(m, "debug.knobs.v", 8, u64(98n))).err;
        r.short_new = (await sysctlbyname(m, "debug.knobs.v", 8, new Uint8Array(4))).err;
        r.ro = (await sysctlbyname(m, "debug.knobs.ro", 8, u64(1n))).err;
      });
    });
    expect(r).toEqual({ write: [0, 1n], after: 7n, einval: EINVAL, eagain: EAGAIN, short_new: EINVAL, ro: EPERM });
  });

  it("create fails with NULL as in Linux 2.6.22, and removal takes the whole tree away", async () => {
    const r: Record<string, unknown> = {};
    const kern = await with_lkpi(async (kern) => {
      const dir = debugfs_create_dir("kvm", null);
      const f = debugfs_create_file("exits", 0o444, dir, null, { get: () => 1n });
      r.dup_dir = debugfs_create_dir("kvm", null);
      r.dup_file = debugfs_create_file("exits", 0o444, dir, null, { get: () => 1n });
      r.dotted = debugfs_create_dir("a.b", dir); // DIVERGENCE: legal in debugfs, not as an OID name
      r.empty = debugfs_create_dir("", dir);
      r.file_parent = debugfs_create_file("x", 0o444, f, null, { get: () => 1n });
      r.no_get = debugfs_create_file("y", 0o444, dir, null, {} as never);
      const vm = debugfs_create_dir("1-3", dir);
      debugfs_create_file("exits", 0o444, vm, null, { get: () => 2n });
      debugfs_remove_recursive(vm);
      r.in_removed = debugfs_create_dir("z", vm);
      debugfs_remove_recursive(vm); // twice: nothing
      debugfs_remove_recursive(null);
      await in_process(kern, async () => {
        const m = await umem.create();
        r.vm_gone = (await sysctlbyname(m, "debug.kvm.1-3.exits", 8)).err;
        r.total_stays = (await sysctlbyname(m, "debug.kvm.exits", 8)).err;
      });
      debugfs_remove_recursive(dir);
      r.recreate = debugfs_create_dir("kvm", null)?.d_name;
      await in_process(kern, async () => {
        const m = await umem.create();
        r.all_gone = (await sysctlbyname(m, "debug.kvm.exits", 8)).err;
      });
    });
    expect(r).toEqual({
      dup_dir: null, dup_file: null, dotted: null, empty: null, file_parent: null, no_get: null, in_removed: null,
      vm_gone: ENOENT, total_stays: 0, recreate: "kvm", all_gone: ENOENT,
    });
    expect(kern.dmesg()).toMatch(/debugfs: File 'kvm' in directory '\/' already present!/);
    expect(kern.dmesg()).toMatch(/debugfs: Bad name 'a\.b'/);
  });

  it("creating a file may sleep: under a spinlock it is WITNESS's panic", async () => {
    const err = await with_lkpi(async () => {
      const l = new spinlock_t();
      spin_lock_init(l, "test");
      await spin_lock(l);
      debugfs_create_dir("kvm", null);
      spin_unlock(l);
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MachineStopped);
    expect(((err as MachineStopped).reason as Error).message).toMatch(/debugfs_create_dir/);
  });
});
