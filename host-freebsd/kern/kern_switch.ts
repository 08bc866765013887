// sys/kern/kern_switch.c: critical sections. critical_enter() forbids preemption of
// the current thread; sleeping inside one panics (mi_switch asserts it). A preemption
// requested meanwhile is owed (td_owepreempt) and taken at the next preemption point.
//
// Model note: FreeBSD's critical_exit() switches at once when a preemption is owed; here
// critical_exit() is synchronous (it must be callable from code that cannot yield), so
// the owed switch happens at the next await-able preemption point (ast at syscall
// return, maybe_yield, a blocking call).

import { curthread } from "../sys/pcpu.js";
import { TDF_NEEDRESCHED } from "../sys/proc.js";
import { panic } from "./kern_shutdown.js";

export function critical_enter(): void {
  curthread().td_critnest++;
}

export function critical_exit(): void {
  const td = curthread();
  if (td.td_critnest <= 0) panic(`critical_exit: td_critnest ${td.td_critnest} (unbalanced)`);
  td.td_critnest--;
  if (td.td_critnest === 0 && td.td_owepreempt) {
    td.td_owepreempt = false;
    td.td_flags |= TDF_NEEDRESCHED;
  }
}
