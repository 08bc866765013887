// The boot sequence, which doubles as the map of the layers (as xv6's main.c does):
//
//   1. machine/       a PC: N CPUs with VT-x, RAM, buses                 new Machine()
//   2. host-*/        a host kernel boots on it                           boot_freebsd / boot_linux
//   3. compat/, kvm/  its rc loads the KVM module stack                   kernel.load_kvm()
//                     FreeBSD: kvm.ko (a Linux module wrapped as a kld) pulls in linuxkpi.ko
//                     Linux:   insmod kvm
//   4. userspace/     the lkvm VMM runs as a process, through syscalls    kernel.run_process()
//   5. teardown       the module stack is unloaded; every frame must be free again
//
// Everything runs inside Machine.run(): the kernel's first thread performs steps 3-5.

import type { LinuxkpiConfig } from "../compat/linuxkpi/linux_config.js";
import { Machine, MachineStopped } from "../machine/engine.js";
import type { HostPipe } from "../machine/host_pipe.js";
import type { HostKernel, ProcessStatus, UserProcessSpec, UserProgram } from "./host_kernel.js";
import { boot_freebsd } from "./host_freebsd.js";
import { boot_linux } from "./host_linux.js";

export type HostName = "freebsd" | "linux";

export interface WorldConfig {
  host: HostName;
  cpus: number;
  /** Host RAM in MiB. */
  ram_mib: number;
  seed: number;
  /** How kvm virtualizes guest memory: shadow page tables (the default) or nested
   *  paging with EPT (the kvm module parameter enable_ept). */
  mmu?: "shadow" | "ept";
  /** The shim's choices on host-freebsd (compat/linuxkpi/linux_config.ts); by default
   *  the 2007 port's working configuration. */
  compat?: Partial<LinuxkpiConfig>;
}

export interface WorldResult {
  status: ProcessStatus;
  /** Free pages before the KVM modules were loaded and after they were unloaded. */
  free_pages_before: number;
  free_pages_after: number;
  kernel: HostKernel;
}

/** The kvm module's parameters for this configuration (insmod kvm enable_ept=1; on
 *  FreeBSD the kenv tunables compat.linuxkpi.kvm_*), in force before the first VM. */
export function kvm_params(cfg: WorldConfig): Record<string, string> {
  return { enable_ept: cfg.mmu === "ept" ? "1" : "0" };
}

export async function boot_host(cfg: WorldConfig): Promise<HostKernel> {
  const machine = new Machine({ ncpus: cfg.cpus, ram_bytes: cfg.ram_mib * 1024 * 1024, seed: cfg.seed });
  return cfg.host === "freebsd" ? boot_freebsd(machine, cfg.compat) : boot_linux(machine);
}

/** Boot a host, load KVM, run one user program to completion, unload, and report. */
export async function run_world(
  cfg: WorldConfig,
  comm: string,
  program: UserProgram,
  stdout: HostPipe,
  stderr: HostPipe,
): Promise<WorldResult> {
  const kernel = await boot_host(cfg);
  let result: WorldResult | null = null;
  let failure: Error | null = null;
  kernel.start(async () => {
    const free_pages_before = kernel.free_page_count();
    const err = await kernel.load_kvm(kvm_params(cfg));
    if (err !== 0) {
      failure = new Error(`loading the KVM module stack failed: error ${err}\n${kernel.dmesg()}`);
      return;
    }
    const status = await kernel.run_process(comm, program, stdout, stderr);
    const uerr = await kernel.unload_kvm();
    if (uerr !== 0) {
      failure = new Error(`unloading the KVM module stack failed: error ${uerr}\n${kernel.dmesg()}`);
      return;
    }
    result = { status, free_pages_before, free_pages_after: kernel.free_page_count(), kernel };
  });
  await kernel.machine.run();
  if (failure !== null) throw failure;
  if (result === null) throw new Error("the kernel's first thread never finished (deadlock?)\n" + kernel.dmesg());
  return result;
}

export interface WorldManyResult {
  /** Each program's status, in the order given. */
  statuses: ProcessStatus[];
  free_pages_before: number;
  free_pages_after: number;
  kernel: HostKernel;
}

/** Boot a host, load KVM, run several user programs at once (each its own process,
 *  e.g. one VMM per VM), wait for all of them, unload, and report. */
export async function run_world_many(cfg: WorldConfig, programs: readonly UserProcessSpec[]): Promise<WorldManyResult> {
  const kernel = await boot_host(cfg);
  let result: WorldManyResult | null = null;
  let failure: Error | null = null;
  kernel.start(async () => {
    const free_pages_before = kernel.free_page_count();
    const err = await kernel.load_kvm(kvm_params(cfg));
    if (err !== 0) {
      failure = new Error(`loading the KVM module stack failed: error ${err}\n${kernel.dmesg()}`);
      return;
    }
    const statuses = await kernel.run_processes(programs);
    const uerr = await kernel.unload_kvm();
    if (uerr !== 0) {
      failure = new Error(`unloading the KVM module stack failed: error ${uerr}\n${kernel.dmesg()}`);
      return;
    }
    result = { statuses, free_pages_before, free_pages_after: kernel.free_page_count(), kernel };
  });
  await kernel.machine.run();
  if (failure !== null) throw failure;
  if (result === null) throw new Error("the kernel's first thread never finished (deadlock?)\n" + kernel.dmesg());
  return result;
}

export type { UserProcessSpec };
export { MachineStopped };
