// sys/amd64/amd64/intr_machdep.c and x86/x86/local_apic.c: the IDT entry the kernel
// installs on each CPU (Cpu.intr_handler). Runs synchronously in interrupt context.

import type { pcpu } from "../sys/pcpu.js";
import { TDF_NEEDRESCHED } from "../sys/proc.js";
import { hardclock } from "../kern/kern_clock.js";
import { kprintf } from "../kern/subr_prf.js";

// IPI vectors (x86/include/apicvar.h orders them at the top of the IDT).
export const IPI_RENDEZVOUS = 0xf1;
export const IPI_AST = 0xf2;
export const IPI_PREEMPT = 0xf3;

export function lapic_handle_intr(pc: pcpu, vector: number): void {
  pc.pc_intr_nesting++;
  try {
    if (vector === pc.pc_cpu.timer_vector) hardclock(pc);
    else if (vector === IPI_RENDEZVOUS) {
      const f = pc.pc_rendezvous;
      pc.pc_rendezvous = null;
      if (f !== null) f();
    } else if (vector === IPI_AST || vector === IPI_PREEMPT) {
      if (pc.pc_runq.length > 0) pc.pc_curthread.td_flags |= TDF_NEEDRESCHED;
    } else kprintf(pc.pc_kernel, `stray irq ${vector} on cpu${pc.pc_cpuid}\n`);
  } finally {
    pc.pc_intr_nesting--;
  }
}
