// sys/amd64/amd64/machdep.c: spinlock_enter/spinlock_exit, which spin mutexes use:
// the first one saves the interrupt flag and disables interrupts, and every one
// enters a critical section.

import { current_cpu } from "../../machine/engine.js";
import { curthread, curkernel } from "../sys/pcpu.js";
import { critical_enter, critical_exit } from "../kern/kern_switch.js";
import { panic } from "../kern/kern_shutdown.js";

export function spinlock_enter(): void {
  const td = curthread();
  if (td.td_md.md_spinlock_count === 0) {
    td.td_md.md_saved_flags = current_cpu().intr_enabled;
    curkernel().machine.cli();
  }
  td.td_md.md_spinlock_count++;
  critical_enter();
}

export function spinlock_exit(): void {
  const td = curthread();
  if (td.td_md.md_spinlock_count <= 0) panic("spinlock_exit: not in a spinlock section");
  critical_exit();
  td.td_md.md_spinlock_count--;
  if (td.td_md.md_spinlock_count === 0 && td.td_md.md_saved_flags) curkernel().machine.sti();
}

/** intr_disable/intr_restore for code that needs only the interrupt flag. */
export function intr_disable(): boolean {
  const was = current_cpu().intr_enabled;
  curkernel().machine.cli();
  return was;
}
export function intr_restore(was: boolean): void {
  if (was) curkernel().machine.sti();
}
