// sys/kern/subr_smp.c: smp_rendezvous. The action runs on every started CPU in
// interrupt context (IPI_RENDEZVOUS); the initiator runs it with interrupts disabled
// and then busy-waits (no sleeping) until every CPU has run it. One rendezvous at a
// time (smp_ipi_mtx in FreeBSD); a second initiator busy-waits with interrupts
// enabled, so it keeps answering the first one's IPI.

import { curkernel, curpcpu } from "../sys/pcpu.js";
import { IPI_RENDEZVOUS } from "../amd64/intr_machdep.js";
import { spinlock_enter, spinlock_exit } from "../amd64/machdep.js";

export async function smp_rendezvous_cpus(cpus: number[], action: (arg: unknown) => void, arg: unknown): Promise<void> {
  const k = curkernel();
  while (k.smp_rv_busy) await k.machine.cpu_yield();
  k.smp_rv_busy = true;
  try {
    const me = curpcpu();
    const pending = new Set<number>();
    for (const id of cpus) {
      const pc = k.pcpus[id];
      if (pc === me || !pc.pc_started) continue;
      pending.add(id);
      pc.pc_rendezvous = () => {
        action(arg);
        pending.delete(id);
      };
      k.machine.send_ipi(pc.pc_cpu, IPI_RENDEZVOUS);
    }
    if (cpus.includes(me.pc_cpuid)) {
      spinlock_enter();
      try {
        action(arg);
      } finally {
        spinlock_exit();
      }
    }
    while (pending.size > 0) await k.machine.cpu_yield();
  } finally {
    k.smp_rv_busy = false;
  }
}

export function smp_rendezvous(action: (arg: unknown) => void, arg: unknown): Promise<void> {
  const k = curkernel();
  return smp_rendezvous_cpus(k.pcpus.map((p) => p.pc_cpuid), action, arg);
}
