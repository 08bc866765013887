// sys/compat/linuxkpi/common/src/linux_schedule.c and include/linux/{preempt,irqflags,
// kernel}.h: preemption, interrupts and sleep checks.
//   might_sleep()      -> WITNESS_WARN(WARN_SLEEPOK): panics in a critical section or with
//                         a mutex held (the FreeBSD kind of message)
//   cond_resched()     -> kern_yield()
//   preempt_disable()  -> critical_enter()
//   local_irq_disable()-> spinlock_enter() (interrupts off + critical section)

import { curthread } from "../../host-freebsd/sys/pcpu.js";
import { TDF_NEEDRESCHED } from "../../host-freebsd/sys/proc.js";
import { witness_warn_sleep } from "../../host-freebsd/kern/subr_witness.js";
import { maybe_yield, mi_switch } from "../../host-freebsd/kern/kern_synch.js";
import { critical_enter, critical_exit } from "../../host-freebsd/kern/kern_switch.js";
import { spinlock_enter, spinlock_exit } from "../../host-freebsd/amd64/machdep.js";

/**
 * might_sleep.
 * DIVERGENCE: with get_cpu mapped to sched_pin, a thread inside get_cpu()/put_cpu() is
 * not atomic for FreeBSD, so might_sleep (and a real sleep) there passes where Linux
 * reports "BUG: sleeping function called from invalid context".
 */
// DIVERGENCE: the report is FreeBSD's ("... with the following non-sleepable locks held",
// "... in a critical section") and it panics, where Linux prints "BUG: sleeping function
// called from invalid context" and carries on.
export function linux_might_sleep(where: string): void {
  witness_warn_sleep(`might_sleep() at ${where}`);
}

/** cond_resched: a preemption point; may sleep. */
export async function linux_cond_resched(): Promise<void> {
  witness_warn_sleep("cond_resched()");
  await maybe_yield();
}

/**
 * irqentry_exit_cond_resched: FreeBSD preempts a kernel thread on the return from an
 * interrupt (critical_exit / the interrupt's sched_preempt) unless it is in a critical
 * section or holds a spin mutex. A pinned thread (sched_pin) comes back on the same CPU;
 * an unpinned one may resume on any CPU.
 */
export async function linux_irqentry_exit_cond_resched(): Promise<void> {
  const td = curthread();
  if ((td.td_flags & TDF_NEEDRESCHED) !== 0 && td.td_critnest === 0 && td.td_md.md_spinlock_count === 0) await mi_switch();
}

export const linux_need_resched = (): boolean => (curthread().td_flags & TDF_NEEDRESCHED) !== 0;

export const linux_preempt_disable = (): void => critical_enter();
export const linux_preempt_enable = (): void => critical_exit();

/** DIVERGENCE: local_irq_disable is spinlock_enter, which nests and also enters a
 *  critical section; Linux's does neither (it only clears IF). */
export const linux_local_irq_disable = (): void => spinlock_enter();
export const linux_local_irq_enable = (): void => spinlock_exit();
