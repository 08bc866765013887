// sys/sys/kernel.h: the SYSINIT machinery and the kernel's global variables.
//
// C keeps these as globals (ticks, hz, allproc, vm_phys_free_queues, ...). The model
// keeps them in one object per booted kernel, reached from the CPU's per-CPU area
// (pcpu.pc_kernel), so several machines can run in one process.

import type { Machine } from "../../machine/engine.js";
import type { HostPipe } from "../../machine/host_pipe.js";
import type { pcpu } from "./pcpu.js";
import type { proc, thread } from "./proc.js";
import type { vm_phys_state } from "../vm/vm_phys.js";
import type { vm_page } from "../vm/vm_page.js";
import type { pmap } from "../amd64/pmap.js";
import type { kmem_arena } from "../vm/vm_kern.js";
import type { malloc_state } from "../kern/kern_malloc.js";
import type { devfs_state } from "../kern/kern_conf.js";
import type { linker_state } from "../kern/kern_linker.js";
import type { msgbuf } from "../kern/subr_msgbuf.js";
import type { callout } from "../kern/kern_timeout.js";
import type { sysctl_state } from "./sysctl.js";

// SYSINIT subsystems (sys/kernel.h order), used by init_main's table.
export const SI_SUB_VM = 0x1000000;
export const SI_SUB_KMEM = 0x1800000;
export const SI_SUB_CPU = 0x2100000;
export const SI_SUB_LOCK = 0x1b00000;
export const SI_SUB_WITNESS = 0x1a80000;
export const SI_SUB_RUN_QUEUE = 0x2400000;
export const SI_SUB_INTRINSIC = 0x2800000;
export const SI_SUB_CLOCKS = 0x4800000;
export const SI_SUB_DEVFS = 0x2f00000;
export const SI_SUB_KLD = 0x2000000;
export const SI_SUB_DRIVERS = 0x3100000;
export const SI_SUB_SMP = 0xf000000;
export const SI_SUB_KTHREAD_IDLE = 0xe000000;
export const SI_SUB_RUN_SCHEDULER = 0xfffffff;

export interface sysinit {
  readonly subsystem: number;
  readonly name: string;
  readonly func: (k: kernel) => void | Promise<void>;
}

export interface kernel_options {
  /** Clock interrupts per second (kern.hz) and the TSC cycles between them. */
  hz?: number;
  tick_cycles?: number;
  /** Where printf's console output goes besides the message buffer. */
  console?: HostPipe | null;
  /** Time slice in ticks before a runnable thread preempts the running one. */
  sched_slice?: number;
}

export class kernel {
  readonly ncpu: number;
  readonly pcpus: pcpu[] = [];
  readonly hz: number;
  readonly tick_cycles: number;
  readonly sched_slice: number;
  /** Hardclock ticks since boot (ticks). */
  ticks = 0;
  console: HostPipe | null;
  msgbufp!: msgbuf;
  panicstr: string | null = null;
  cold = true;

  // Processes and threads.
  readonly allproc: proc[] = [];
  proc0!: proc;
  thread0!: thread;
  next_pid = 1;
  next_tid = 100000;

  // Sleep queues, keyed by wait channel; callouts sorted by expiry.
  readonly sleepq_chains = new Map<unknown, thread[]>();
  readonly callouts: callout[] = [];

  /** umtx wait channels, per address space and user address. */
  readonly umtx_keys = new Map<object, Map<number, object>>();

  // smp_rendezvous serialisation.
  smp_rv_busy = false;

  // Virtual memory.
  vm_phys!: vm_phys_state;
  vm_page_array!: vm_page[];
  kernel_pmap!: pmap;
  kernel_arena!: kmem_arena;
  malloc!: malloc_state;

  // Devices, files and modules.
  devfs!: devfs_state;
  linker!: linker_state;
  /** The sysctl MIB (kern_sysctl.ts), built on first use. */
  sysctl: sysctl_state | null = null;
  /** The kernel environment (kenv(1), loader.conf): tunables read at boot and module load. */
  readonly kenv = new Map<string, string>();

  /** The rc script: run in thread0 after the SYSINITs. */
  start_main: (() => Promise<void>) | null = null;

  constructor(
    readonly machine: Machine,
    opts: kernel_options,
  ) {
    this.ncpu = machine.cpus.length;
    this.hz = opts.hz ?? 1000;
    this.tick_cycles = opts.tick_cycles ?? 1_000_000;
    this.sched_slice = opts.sched_slice ?? 4;
    this.console = opts.console ?? null;
  }
}
