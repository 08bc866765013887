// sys/kern/kern_mutex.c and subr_turnstile.c: mutexes.
//
//  MTX_DEF  a sleep mutex: a contending thread BLOCKS on the mutex's turnstile (it is
//           switched out and handed the mutex by mtx_unlock). Blocking is not sleeping:
//           holding an MTX_DEF while blocking on another is fine, but sleeping
//           (msleep, sx, M_WAITOK) with one held trips WITNESS.
//  MTX_SPIN a spin mutex: spinlock_enter() disables interrupts and enters a critical
//           section for as long as it is held; nothing may block or sleep under it.
//
// Model note: mtx_lock and mtx_lock_spin return Promises: blocking is a context switch,
// and spinning lets simulated time pass on this CPU while the holder (on another CPU,
// perhaps in a DELAY) runs. A spin mutex held for more than a second panics ("spin lock
// held too long", _mtx_lock_indefinite_check): its holder slept, or was interrupted on
// this very CPU by the spinner.

import { current_cpu } from "../../machine/engine.js";
import { curkernel, curthread } from "../sys/pcpu.js";
import { lock_class_mtx_sleep, lock_class_mtx_spin, lock_object, LO_INITIALIZED } from "../sys/lock.js";
import { TDI_LOCK, type thread } from "../sys/proc.js";
import { panic } from "./kern_shutdown.js";
import { mi_switch, setrunnable, _sleep } from "./kern_synch.js";
import { witness_checkorder, witness_lock, witness_unlock, witness_warn_block } from "./subr_witness.js";
import { spinlock_enter, spinlock_exit } from "../amd64/machdep.js";

export const MTX_DEF = 0x00000000;
export const MTX_SPIN = 0x00000001;
export const MTX_RECURSE = 0x00000004;
export const MTX_NOWITNESS = 0x00000008;
export const MTX_DUPOK = 0x00000020;

export class mtx {
  readonly lock_object: lock_object;
  /** Owning thread (mtx_lock word), or null. */
  mtx_lock: thread | null = null;
  mtx_recurse = 0;
  /** Threads blocked on this mutex's turnstile, in arrival order. */
  readonly ts_blocked: thread[] = [];
  opts = 0;
  destroyed = false;
  constructor(name = "mtx") {
    this.lock_object = new lock_object(name, lock_class_mtx_sleep);
  }
}

export function mtx_init(m: mtx, name: string, type: string | null, opts: number): void {
  if ((opts & ~(MTX_SPIN | MTX_RECURSE | MTX_NOWITNESS | MTX_DUPOK)) !== 0) panic(`mtx_init: unknown option 0x${opts.toString(16)} for ${name}`);
  if ((m.lock_object.lo_flags & LO_INITIALIZED) !== 0 && !m.destroyed) panic(`lock "${name}" ${type ?? ""} already initialized`);
  (m as { lock_object: lock_object }).lock_object = new lock_object(name, (opts & MTX_SPIN) !== 0 ? lock_class_mtx_spin : lock_class_mtx_sleep);
  m.lock_object.lo_flags |= LO_INITIALIZED;
  m.opts = opts;
  m.mtx_lock = null;
  m.mtx_recurse = 0;
  m.destroyed = false;
}

const is_spin = (m: mtx) => (m.opts & MTX_SPIN) !== 0;

function check_usable(m: mtx, what: string): void {
  if (m.destroyed) panic(`${what}: lock ${m.lock_object.lo_name} used after mtx_destroy`);
  if ((m.lock_object.lo_flags & LO_INITIALIZED) === 0) panic(`${what}: lock ${m.lock_object.lo_name} not initialized`);
}

/** mtx_lock: acquire a sleep mutex, blocking on its turnstile if another thread owns it.
 *  The uncontended path (_mtx_obtain_lock) is synchronous; a Promise is returned only
 *  when the thread must block. */
export function mtx_lock(m: mtx): void | Promise<void> {
  check_usable(m, "mtx_lock");
  if (is_spin(m)) panic(`mtx_lock() of spin mutex ${m.lock_object.lo_name}`);
  const td = curthread();
  witness_checkorder(m.lock_object, (m.opts & MTX_RECURSE) !== 0, m.mtx_lock === td);
  if (m.mtx_lock === td) {
    m.mtx_recurse++;
    return;
  }
  if (m.mtx_lock === null) {
    m.mtx_lock = td;
    witness_lock(m.lock_object);
    return;
  }
  return __mtx_lock_sleep(m, td);
}

/** __mtx_lock_sleep: block on the turnstile; mtx_unlock hands the mutex over. */
async function __mtx_lock_sleep(m: mtx, td: thread): Promise<void> {
  witness_warn_block(m.lock_object);
  m.ts_blocked.push(td);
  td.td_blocked = m.lock_object;
  td.td_state = "TDS_INHIBITED";
  td.td_inhibitors |= TDI_LOCK;
  await mi_switch();
  td.td_blocked = null;
  if (m.mtx_lock !== td) panic(`turnstile: ${td.td_name} woken without owning ${m.lock_object.lo_name}`);
  witness_lock(m.lock_object);
}

/** mtx_trylock: take the mutex if it is free (or recursively owned); never blocks. */
export function mtx_trylock(m: mtx): boolean {
  check_usable(m, "mtx_trylock");
  if (is_spin(m)) panic(`mtx_trylock() of spin mutex ${m.lock_object.lo_name}`);
  const td = curthread();
  if (m.mtx_lock === td && (m.opts & MTX_RECURSE) !== 0) {
    m.mtx_recurse++;
    return true;
  }
  if (m.mtx_lock !== null) return false;
  witness_checkorder(m.lock_object, true, false);
  m.mtx_lock = td;
  witness_lock(m.lock_object);
  return true;
}

export function mtx_unlock(m: mtx): void {
  check_usable(m, "mtx_unlock");
  if (is_spin(m)) panic(`mtx_unlock() of spin mutex ${m.lock_object.lo_name}`);
  const td = curthread();
  if (m.mtx_lock !== td) panic(`mtx_unlock: mutex ${m.lock_object.lo_name} not owned (owner ${m.mtx_lock?.td_name ?? "none"})`);
  if (m.mtx_recurse > 0) {
    m.mtx_recurse--;
    return;
  }
  witness_unlock(m.lock_object);
  const next = m.ts_blocked.shift();
  if (next === undefined) {
    m.mtx_lock = null;
    return;
  }
  // turnstile_unpend: hand the mutex to the first blocked thread.
  m.mtx_lock = next;
  setrunnable(curkernel(), next);
}

/** Cycles a spin-mutex contender spins before "spin lock held too long": one second of
 *  the 1 GHz TSC (FreeBSD counts 60,000,000 spins of cpu_spinwait, a few seconds). */
export const MTX_SPIN_TOO_LONG_CYCLES = 1_000_000_000;
const MTX_SPIN_MAX_PAUSE = 1 << 16;

/** mtx_lock_spin: disable interrupts, enter a critical section and take the lock;
 *  if another CPU holds it, spin (_mtx_lock_spin_cookie). Synchronous when the lock is
 *  free (interrupt handlers, which run synchronously, take spin mutexes); a Promise to
 *  await when it must spin. */
export function mtx_lock_spin(m: mtx): void | Promise<void> {
  check_usable(m, "mtx_lock_spin");
  if (!is_spin(m)) panic(`mtx_lock_spin() of sleep mutex ${m.lock_object.lo_name}`);
  const td = curthread();
  witness_checkorder(m.lock_object, (m.opts & MTX_RECURSE) !== 0, m.mtx_lock === td);
  spinlock_enter();
  if (m.mtx_lock === td) {
    m.mtx_recurse++;
    return;
  }
  if (m.mtx_lock === null) return mtx_spin_take(m, td);
  // DIVERGENCE (model): an interrupt handler runs synchronously and cannot spin; a spin
  // mutex contended in interrupt context panics at once.
  if (current_cpu().in_interrupt) panic(`spin lock ${m.lock_object.lo_name} held by ${m.mtx_lock.td_name} (tid ${m.mtx_lock.td_tid}) contended in interrupt context`);
  return mtx_spin_wait(m, td);
}

async function mtx_spin_wait(m: mtx, td: thread): Promise<void> {
  // "Give interrupts a chance while we spin": spinlock_exit, spin until the word reads
  // unowned, spinlock_enter, and try again.
  const start = current_cpu().tsc;
  let pause = 64;
  while (m.mtx_lock !== null) {
    spinlock_exit();
    while (m.mtx_lock !== null) {
      if (current_cpu().tsc - start >= MTX_SPIN_TOO_LONG_CYCLES) {
        const owner = m.mtx_lock;
        panic(`spin lock ${m.lock_object.lo_name} held by ${owner.td_name} (tid ${owner.td_tid}) too long`);
      }
      await curkernel().machine.cpu_yield(pause);
      pause = Math.min(pause * 2, MTX_SPIN_MAX_PAUSE);
    }
    spinlock_enter();
  }
  mtx_spin_take(m, td);
}

function mtx_spin_take(m: mtx, td: thread): void {
  m.mtx_lock = td;
  witness_lock(m.lock_object);
}

export function mtx_unlock_spin(m: mtx): void {
  check_usable(m, "mtx_unlock_spin");
  if (!is_spin(m)) panic(`mtx_unlock_spin() of sleep mutex ${m.lock_object.lo_name}`);
  const td = curthread();
  if (m.mtx_lock !== td) panic(`mtx_unlock_spin: spin mutex ${m.lock_object.lo_name} not owned`);
  if (m.mtx_recurse > 0) m.mtx_recurse--;
  else {
    witness_unlock(m.lock_object);
    m.mtx_lock = null;
  }
  spinlock_exit();
}

export const mtx_owned = (m: mtx): boolean => m.mtx_lock === curthread();
export const mtx_name = (m: mtx): string => m.lock_object.lo_name;

/** mtx_destroy: the mutex must be unowned, or owned (not recursed) by the caller. */
export function mtx_destroy(m: mtx): void {
  check_usable(m, "mtx_destroy");
  const td = curthread();
  if (m.mtx_lock !== null && m.mtx_lock !== td)
    panic(`mtx_destroy: lock (${m.lock_object.lo_class.lc_name}) ${m.lock_object.lo_name} destroyed while held by ${m.mtx_lock.td_name}`);
  if (m.mtx_lock === td) {
    if (m.mtx_recurse > 0) panic(`mtx_destroy: lock ${m.lock_object.lo_name} destroyed while recursed`);
    witness_unlock(m.lock_object);
    if (is_spin(m)) spinlock_exit();
  }
  if (m.ts_blocked.length > 0) panic(`mtx_destroy: lock ${m.lock_object.lo_name} has blocked threads`);
  m.mtx_lock = null;
  m.destroyed = true;
}

/** msleep(9): sleep on chan with mutex m as the interlock. */
export function msleep(chan: unknown, m: mtx | null, priority: number, wmesg: string, timo: number): Promise<number> {
  const interlock =
    m === null ? null : { lock_object: m.lock_object, unlock: () => mtx_unlock(m), relock: async () => mtx_lock(m) };
  return _sleep(chan, interlock, priority, wmesg, timo);
}
