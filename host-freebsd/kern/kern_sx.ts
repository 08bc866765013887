// sys/kern/kern_sx.c: shared/exclusive locks whose holders may sleep. Contention
// sleeps on a sleep queue (the lock is the wait channel). LinuxKPI maps Linux's
// struct mutex to an exclusive sx.

import { curthread } from "../sys/pcpu.js";
import { EINTR } from "../sys/errno.js";
import { lock_class_sx, lock_object, LO_INITIALIZED } from "../sys/lock.js";
import type { thread } from "../sys/proc.js";
import { panic } from "./kern_shutdown.js";
import { PCATCH, tsleep, wakeup } from "./kern_synch.js";
import { witness_checkorder, witness_lock, witness_unlock, witness_warn_sleep } from "./subr_witness.js";

export const SX_RECURSE = 0x04;
export const SX_NOWITNESS = 0x08;
export const SX_DUPOK = 0x01;

export class sx {
  lock_object: lock_object;
  sx_owner: thread | null = null;
  sx_recurse = 0;
  sx_waiters = 0;
  opts = 0;
  destroyed = false;
  constructor(name = "sx") {
    this.lock_object = new lock_object(name, lock_class_sx);
  }
}

export function sx_init_flags(s: sx, name: string, opts: number): void {
  s.lock_object = new lock_object(name, lock_class_sx);
  s.lock_object.lo_flags |= LO_INITIALIZED;
  s.opts = opts;
  s.sx_owner = null;
  s.sx_recurse = 0;
  s.destroyed = false;
}
export const sx_init = (s: sx, name: string) => sx_init_flags(s, name, 0);

async function _sx_xlock(s: sx, sig: boolean): Promise<number> {
  if (s.destroyed || (s.lock_object.lo_flags & LO_INITIALIZED) === 0) panic(`sx_xlock: lock ${s.lock_object.lo_name} not initialized or destroyed`);
  const td = curthread();
  witness_checkorder(s.lock_object, (s.opts & SX_RECURSE) !== 0, s.sx_owner === td);
  if (s.sx_owner === td) {
    s.sx_recurse++;
    return 0;
  }
  while (s.sx_owner !== null) {
    witness_warn_sleep(`sx_xlock "${s.lock_object.lo_name}"`);
    s.sx_waiters++;
    const error = await tsleep(s, sig ? PCATCH : 0, s.lock_object.lo_name, 0);
    s.sx_waiters--;
    if (error !== 0) return EINTR;
  }
  s.sx_owner = td;
  witness_lock(s.lock_object);
  return 0;
}

export async function sx_xlock(s: sx): Promise<void> {
  await _sx_xlock(s, false);
}

/** sx_xlock_sig: 0, or EINTR if a signal arrived while waiting. */
export const sx_xlock_sig = (s: sx): Promise<number> => _sx_xlock(s, true);

export function sx_try_xlock(s: sx): boolean {
  const td = curthread();
  if (s.sx_owner === td && (s.opts & SX_RECURSE) !== 0) {
    s.sx_recurse++;
    return true;
  }
  if (s.sx_owner !== null) return false;
  witness_checkorder(s.lock_object, false, false);
  s.sx_owner = td;
  witness_lock(s.lock_object);
  return true;
}

export function sx_xunlock(s: sx): void {
  const td = curthread();
  if (s.sx_owner !== td) panic(`sx_xunlock: lock ${s.lock_object.lo_name} not exclusively locked by ${td.td_name}`);
  if (s.sx_recurse > 0) {
    s.sx_recurse--;
    return;
  }
  witness_unlock(s.lock_object);
  s.sx_owner = null;
  if (s.sx_waiters > 0) wakeup(s);
}

export const sx_xlocked = (s: sx): boolean => s.sx_owner === curthread();

export function sx_destroy(s: sx): void {
  if (s.sx_owner !== null) panic(`sx_destroy: lock ${s.lock_object.lo_name} destroyed while held by ${s.sx_owner.td_name}`);
  if (s.sx_waiters > 0) panic(`sx_destroy: lock ${s.lock_object.lo_name} has waiters`);
  s.destroyed = true;
}
