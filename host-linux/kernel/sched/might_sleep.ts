// include/linux/preempt.h, kernel/sched/core.c (__might_sleep), include/linux/irqflags.h:
// the atomic-context rules. A task may sleep only with preempt_count == 0, interrupts
// enabled and outside an interrupt handler; every path that can sleep checks it here.

import { current_cpu } from "../../../machine/engine.js";
import type { linux_kernel } from "../../init/main.js";
import { get_current, this_cpu } from "../../arch/x86/kernel/percpu.js";
import { BUG } from "../panic.js";
import { DEBUG_LOCKS_WARN_ON } from "../../lib/debug_locks.js";
import { held_locks_lines } from "../locking/lockdep.js";

export const in_interrupt = (k: linux_kernel): boolean => this_cpu(k).cpu.in_interrupt;
export const irqs_disabled = (k: linux_kernel): boolean => !this_cpu(k).cpu.intr_enabled;
export const preempt_count = (k: linux_kernel): number => get_current(k).thread_info.preempt_count;

/** in_atomic(): preemption disabled or in interrupt context. */
export function in_atomic(k: linux_kernel): boolean {
  return preempt_count(k) !== 0 || in_interrupt(k);
}

export function preempt_disable(k: linux_kernel): void {
  get_current(k).thread_info.preempt_count++;
}

/** preempt_enable. Reaching zero with TIF_NEED_RESCHED set would preempt here on a
 *  PREEMPT kernel; in this model preemption waits for the next preemption point
 *  (cond_resched, return to user mode), as on a PREEMPT_NONE kernel. */
export function preempt_enable(k: linux_kernel): void {
  const t = get_current(k);
  if (DEBUG_LOCKS_WARN_ON(k, t.thread_info.preempt_count <= 0, "kernel/sched/core.c preempt_count_sub", "val > preempt_count()")) return;
  t.thread_info.preempt_count--;
}

/** __might_sleep: "BUG: sleeping function called from invalid context". */
export function might_sleep(k: linux_kernel, where: string): void {
  const cpu = current_cpu();
  const t = get_current(k);
  const atomic = t.thread_info.preempt_count !== 0 || cpu.in_interrupt;
  if (!atomic && cpu.intr_enabled) return;
  // debug_show_held_locks
  const held = t.held_locks.length ? held_locks_lines(t) : [];
  BUG(
    k,
    `sleeping function called from invalid context at ${where}`,
    `in_atomic(): ${atomic ? 1 : 0}, irqs_disabled(): ${cpu.intr_enabled ? 0 : 1}, non_block: 0, pid: ${t.pid}, name: ${t.comm}`,
    `preempt_count: ${t.thread_info.preempt_count.toString(16)}, expected: 0`,
    ...held,
  );
}
