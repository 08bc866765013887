// sys/sys/pcpu.h: struct pcpu, the per-CPU area %gs points at (Cpu.gsbase), and the
// accessors curthread / PCPU_GET. The kernel's globals hang off pc_kernel, so many
// machines (each with its own kernel) can share one Node process.

import { current_cpu, on_cpu, type Cpu } from "../../machine/engine.js";
import type { kernel } from "./kernel.js";
import type { thread } from "./proc.js";

export class pcpu {
  /** Thread running on this CPU. Written only by this CPU's context switch. */
  pc_curthread!: thread;
  pc_idlethread!: thread;
  /** Run queue of threads that will run on this CPU (ULE's tdq), protected by being
   *  touched only in synchronous code (the model's sched_lock). */
  readonly pc_runq: thread[] = [];
  /** Ticks left in the current thread's time slice. */
  pc_slice = 0;
  /** Hardclock ticks taken on this CPU. */
  pc_ticks = 0;
  /** Nesting of interrupt handlers (td_intr_nesting_level lives here in the model). */
  pc_intr_nesting = 0;
  /** The CPU has started scheduling (its idle thread runs). */
  pc_started = false;
  /** smp_rendezvous work posted to this CPU. */
  pc_rendezvous: (() => void) | null = null;
  constructor(
    readonly pc_cpuid: number,
    readonly pc_cpu: Cpu,
    /** The model's link from a CPU to the kernel's global variables. */
    readonly pc_kernel: kernel,
  ) {}
}

/** The per-CPU area of the CPU running now (PCPU_PTR via %gs). */
export function curpcpu(): pcpu {
  const p = current_cpu().gsbase;
  if (!(p instanceof pcpu)) throw new Error("no FreeBSD per-CPU area on this CPU (kernel not booted here)");
  return p;
}

export const curthread = (): thread => curpcpu().pc_curthread;
export const curkernel = (): kernel => curpcpu().pc_kernel;

/** PCPU_GET(cpuid). */
export const PCPU_GET_cpuid = (): number => curpcpu().pc_cpuid;

/** True when running inside a context of a CPU that booted this kernel. */
export function on_freebsd_cpu(): boolean {
  return on_cpu() && current_cpu().gsbase instanceof pcpu;
}
