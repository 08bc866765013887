// kvm's module parameters (kvm_module.ts: enable_ept, mmu_cache) reach the module the
// way each host passes them: insmod arguments on host-linux (kernel/params.c), kenv
// tunables compat.linuxkpi.kvm_<name> on host-freebsd (LinuxKPI's module_param), shown
// there as read-only sysctls. Bad input is reported each host's way.

import { describe, expect, it } from "vitest";
import { boot_host, type HostName } from "../../boot/world.js";
import type { HostKernel } from "../../boot/host_kernel.js";
import { kvm_globals } from "../../kvm/kvm_globals.js";
import { CapturePipe } from "../../machine/host_pipe.js";
import { freebsd_abi } from "../../userspace/libc/abi_freebsd.js";
import { Libc } from "../../userspace/libc/libc.js";

/** Boot `host`, run `body` in its first thread, return what it returned. */
async function in_kernel<T>(host: HostName, body: (k: HostKernel) => Promise<T>): Promise<T> {
  const kernel = await boot_host({ host, cpus: 1, ram_mib: 32, seed: 1 });
  let out: { v: T } | null = null;
  kernel.start(async () => {
    out = { v: await body(kernel) };
  });
  await kernel.machine.run();
  if (out === null) throw new Error("the kernel's first thread did not finish");
  return (out as { v: T }).v;
}

const params_in_force = () => ({ enable_ept: kvm_globals().enable_ept, mmu_cache: kvm_globals().mmu_cache });

describe("kvm module parameters", () => {
  for (const host of ["linux", "freebsd"] as const) {
    it(`${host}: defaults without parameters, and the given ones when loaded with them`, async () => {
      const r = await in_kernel(host, async (k) => {
        expect(await k.load_kvm()).toBe(0);
        const defaults = params_in_force();
        expect(await k.unload_kvm()).toBe(0);
        expect(await k.load_kvm({ enable_ept: "1", mmu_cache: "0" })).toBe(0);
        const given = params_in_force();
        expect(await k.unload_kvm()).toBe(0);
        return { defaults, given };
      });
      expect(r.defaults).toEqual({ enable_ept: false, mmu_cache: true });
      expect(r.given).toEqual({ enable_ept: true, mmu_cache: false });
    });
  }

  it("linux: an unknown parameter is reported and ignored; an invalid value fails the load with EINVAL", async () => {
    const r = await in_kernel("linux", async (k) => {
      const unknown = await k.load_kvm({ enable_npt: "1" });
      const after_unknown = params_in_force();
      await k.unload_kvm();
      const invalid = await k.load_kvm({ enable_ept: "maybe" });
      const retry = await k.load_kvm({ enable_ept: "y" });
      const after_retry = params_in_force();
      await k.unload_kvm();
      return { unknown, after_unknown, invalid, retry, after_retry, dmesg: k.dmesg() };
    });
    expect(r.unknown).toBe(0);
    expect(r.after_unknown.enable_ept).toBe(false);
    expect(r.dmesg).toMatch(/kvm: unknown parameter 'enable_npt' ignored/);
    expect(r.invalid).toBe(22);
    expect(r.dmesg).toMatch(/kvm: `maybe' invalid for parameter `enable_ept'/);
    expect(r.retry).toBe(0);
    expect(r.after_retry.enable_ept).toBe(true);
  });

  it("freebsd: the tunables show as compat.linuxkpi.kvm_* sysctls while kvm is loaded; a bad tunable is reported and the default stays", async () => {
    const read = async (k: HostKernel) => {
      const out = new CapturePipe();
      const seen: (bigint | null)[] = [];
      await k.run_process("sysctl", async () => {
        const c = new Libc(freebsd_abi);
        for (const n of ["compat.linuxkpi.kvm_enable_ept", "compat.linuxkpi.kvm_mmu_cache"]) {
          const b = await c.sysctlbyname(n, 8);
          seen.push(b === null ? null : new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
        }
        return 0;
      }, out, out);
      return seen;
    };
    const r = await in_kernel("freebsd", async (k) => {
      expect(await k.load_kvm({ enable_ept: "1" })).toBe(0);
      const loaded = await read(k);
      expect(await k.unload_kvm()).toBe(0);
      const unloaded = await read(k);
      expect(await k.load_kvm({ enable_ept: "maybe" })).toBe(0);
      const bad = params_in_force();
      expect(await k.unload_kvm()).toBe(0);
      return { loaded, unloaded, bad, dmesg: k.dmesg() };
    });
    expect(r.loaded).toEqual([1n, 1n]);
    expect(r.unloaded).toEqual([null, null]);
    expect(r.bad.enable_ept).toBe(false);
    expect(r.dmesg).toMatch(/Setting sysctl compat\.linuxkpi\.kvm_enable_ept failed: 22/);
  });
});
