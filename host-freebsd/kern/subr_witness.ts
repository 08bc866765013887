// sys/kern/subr_witness.c, a minimal WITNESS: tracks the locks each thread holds
// (td_locks) and panics on the errors the model must catch:
//  - sleeping (msleep, sx, M_WAITOK, ...) with a non-sleepable lock held or inside a
//    critical section or an interrupt handler;
//  - acquiring a sleepable lock (sx) with a non-sleepable one held;
//  - recursing on a non-recursive lock; releasing a lock not held;
//  - destroying a lock another thread holds.
// Lock-order reversal checking is left for issue 5.

import { current_cpu } from "../../machine/engine.js";
import { curthread } from "../sys/pcpu.js";
import { LC_SLEEPABLE, LC_SPINLOCK, type lock_object } from "../sys/lock.js";
import { panic } from "./kern_shutdown.js";

function describe(lo: lock_object): string {
  return `exclusive ${lo.lo_class.lc_name} ${lo.lo_name} (${lo.lo_name}) r = 0`;
}

/** Held locks that forbid sleeping: every mutex (sleep or spin). */
export function witness_nonsleepable_held(except: lock_object | null = null): lock_object[] {
  return curthread().td_locks.filter((l) => l !== except && (l.lo_class.lc_flags & LC_SLEEPABLE) === 0);
}

/**
 * WITNESS_WARN(WARN_SLEEPOK ...) plus the assertions of _sleep()/mi_switch(): the
 * current thread is about to sleep (or may sleep) in `what`.
 */
export function witness_warn_sleep(what: string, interlock: lock_object | null = null): void {
  const td = curthread();
  if (current_cpu().in_interrupt) panic(`${what}: sleeping in an interrupt handler (thread ${td.td_name})`);
  const held = witness_nonsleepable_held(interlock);
  if (held.length > 0)
    panic(`${what} with the following non-sleepable locks held:\n${held.map(describe).join("\n")}\nsleeping thread ${td.td_name} (tid ${td.td_tid}, pid ${td.td_proc.p_pid}) owns a non-sleepable lock`);
  if (td.td_critnest > 0)
    panic(`${what}: sleeping thread ${td.td_name} (tid ${td.td_tid}) in a critical section (td_critnest ${td.td_critnest})`);
}

/** Before blocking on a sleep mutex's turnstile: allowed with other sleep mutexes held
 *  (that is a block, not a sleep), not with a spin mutex or in a critical section. */
export function witness_warn_block(lo: lock_object): void {
  const td = curthread();
  if (current_cpu().in_interrupt) panic(`blocking on ${lo.lo_name} in an interrupt handler (thread ${td.td_name})`);
  const spin = td.td_locks.filter((l) => (l.lo_class.lc_flags & LC_SPINLOCK) !== 0);
  if (spin.length > 0 || td.td_critnest > 0)
    panic(`blocking on ${lo.lo_class.lc_name} ${lo.lo_name} with ${spin.length > 0 ? `spin lock ${spin[0].lo_name} held` : `td_critnest ${td.td_critnest}`} (thread ${td.td_name})`);
}

/** witness_checkorder: acquiring `lo`. */
export function witness_checkorder(lo: lock_object, recursable: boolean, owned_by_me: boolean): void {
  if (owned_by_me && !recursable) panic(`_mtx_lock_flags: recursed on non-recursive ${lo.lo_class.lc_name} ${lo.lo_name}`);
  if ((lo.lo_class.lc_flags & LC_SLEEPABLE) !== 0) {
    const held = witness_nonsleepable_held();
    if (held.length > 0)
      panic(`acquiring sleepable lock ${lo.lo_class.lc_name} ${lo.lo_name} with the following non-sleepable locks held:\n${held.map(describe).join("\n")}`);
  }
}

export function witness_lock(lo: lock_object): void {
  curthread().td_locks.push(lo);
}

export function witness_unlock(lo: lock_object): void {
  const locks = curthread().td_locks;
  const i = locks.lastIndexOf(lo);
  if (i < 0) panic(`lock (${lo.lo_class.lc_name}) ${lo.lo_name} not locked by this thread`);
  locks.splice(i, 1);
}
