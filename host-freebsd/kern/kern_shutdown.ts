// sys/kern/kern_shutdown.c: panic(9). In the model a panic throws KernelPanic out of
// the context that called it; the engine stops the machine and Machine.run() rejects
// with MachineStopped wrapping it.

import { on_freebsd_cpu, curpcpu } from "../sys/pcpu.js";
import { kprintf } from "./subr_prf.js";

export class KernelPanic extends Error {
  constructor(
    message: string,
    /** Name and tid of the thread that panicked. */
    readonly thread_name: string,
    readonly cpuid: number,
  ) {
    super(message);
    this.name = "KernelPanic";
  }
}

export function panic(msg: string): never {
  let tname = "(no thread)";
  let cpuid = -1;
  if (on_freebsd_cpu()) {
    const pc = curpcpu();
    const td = pc.pc_curthread;
    cpuid = pc.pc_cpuid;
    tname = td ? `${td.td_name} (tid ${td.td_tid}, pid ${td.td_proc.p_pid})` : tname;
    const k = pc.pc_kernel;
    if (k.panicstr === null) k.panicstr = msg;
    kprintf(k, `panic: ${msg}\ncpuid = ${cpuid}\ntime = ${k.ticks}\n`);
  }
  throw new KernelPanic(`panic: ${msg} [cpuid = ${cpuid}; thread ${tname}]`, tname, cpuid);
}

/** KASSERT(exp, msg) of an INVARIANTS kernel. */
export function KASSERT(cond: unknown, msg: string): asserts cond {
  if (!cond) panic(msg);
}
