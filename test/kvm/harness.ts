// Runs a user program on a freshly booted host with KVM loaded, and reports what it
// printed, how it ended, and whether every frame came back.

import { CapturePipe } from "../../machine/host_pipe.js";
import { run_world, type HostName } from "../../boot/world.js";
import { freebsd_abi } from "../../userspace/libc/abi_freebsd.js";
import { linux_abi } from "../../userspace/libc/abi_linux.js";
import { Libc } from "../../userspace/libc/libc.js";

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
