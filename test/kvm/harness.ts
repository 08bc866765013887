// Runs a user program on a freshly booted host with KVM loaded, and reports what it
// printed, how it ended, and whether every frame came back.

import { CapturePipe } from "../../machine/host_pipe.js";
import { run_world, type HostName } from "../../boot/world.js";
import { freebsd_abi } from "../../userspace/libc/abi_freebsd.js";
import { linux_abi } from "../../userspace/libc/abi_linux.js";
import { Libc } from "../../userspace/libc/libc.js";
import type { Uva } from "../../machine/addr.js";
import type { VcpuFd, VmFd } from "../../userspace/lib/kvm.js";

export const HOSTS: HostName[] = ["freebsd", "linux"];

/** The MMU run_on boots with unless told otherwise; test/kvm/ept.test.ts sets "ept"
 *  and then runs the other suites of this directory again. */
export let default_mmu: "shadow" | "ept" = "shadow";
export function set_default_mmu(mmu: "shadow" | "ept"): void {
  default_mmu = mmu;
}

export interface Outcome {
  stdout: string;
  stderr: string;
  exit_code: number | null;
  signal: number | null;
  leaked_pages: number;
}

export async function run_on(host: HostName, main: (c: Libc) => Promise<number>, opts: { cpus?: number; seed?: number; ram_mib?: number; mmu?: "shadow" | "ept" } = {}): Promise<Outcome> {
  const out = new CapturePipe();
  const err = new CapturePipe();
  const abi = host === "freebsd" ? freebsd_abi : linux_abi;
  const r = await run_world(
    { host, cpus: opts.cpus ?? 2, seed: opts.seed ?? 1, ram_mib: opts.ram_mib ?? 64, mmu: opts.mmu ?? default_mmu },
    "test",
    () => main(new Libc(abi)),
    out,
    err,
  );
  return {
    stdout: out.text(),
    stderr: err.text(),
    exit_code: r.status.exit_code,
    signal: r.status.signal,
    leaked_pages: r.free_pages_before - r.free_pages_after,
  };
}

/** Run `body` as a user program on a host; return what it logged. The run must end
 *  cleanly (status 0, nothing on stderr) and give back every page. */
export async function run_logged(host: HostName, body: (c: Libc, log: (x: unknown) => void) => Promise<void>): Promise<unknown[]> {
  const { expect } = await import("vitest");
  const log: unknown[] = [];
  const o = await run_on(host, async (c) => {
    await body(c, (x) => log.push(x));
    return 0;
  });
  expect(o.stderr).toBe("");
  expect(o.exit_code).toBe(0);
  expect(o.leaked_pages).toBe(0);
  return log;
}

/** Anonymous private read/write memory of this process. */
export async function anon(c: Libc, len: number): Promise<Uva> {
  const p = await c.mmap(null, len, c.abi.PROT_READ | c.abi.PROT_WRITE, c.abi.MAP_PRIVATE | c.abi.MAP_ANON, -1, 0);
  if (p === null) throw new Error(`mmap: ${c.errname()}`);
  return p;
}

/** vcpu 0 of `vm` in real mode with flat segments at 0, starting at `rip` (stack at `rsp`). */
export async function real_mode_vcpu(vm: VmFd, rip: number, rsp?: number): Promise<VcpuFd> {
  const vcpu = await vm.create_vcpu(0);
  const s = await vcpu.get_sregs();
  for (const seg of [s.cs, s.ds, s.es, s.ss]) { seg.base = 0n; seg.selector = 0; }
  await vcpu.set_sregs(s);
  const regs = await vcpu.get_regs();
  regs.rip = BigInt(rip);
  if (rsp !== undefined) regs.rsp = BigInt(rsp);
  await vcpu.set_regs(regs);
  return vcpu;
}
