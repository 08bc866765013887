// lib/debug_locks.c, include/linux/debug_locks.h: the one switch every locking
// debug facility shares. The first problem found (a lockdep report, a
// DEBUG_LOCKS_WARN_ON) turns it off, so that report is the only one: after it the
// locking state may be inconsistent and further reports would mostly be noise.

import type { linux_kernel } from "../init/main.js";
import { WARN } from "../kernel/panic.js";

/** debug_locks_off: true for the caller that turned the switch off (and so reports). */
export function debug_locks_off(k: linux_kernel): boolean {
  if (!k.debug_locks) return false;
  k.debug_locks = false;
  return true;
}

/** DEBUG_LOCKS_WARN_ON(c): when `c` holds, the first time only, a WARN naming it
 *  (the model adds `detail`, what the stack trace would show). */
export function DEBUG_LOCKS_WARN_ON(k: linux_kernel, c: boolean, where: string, cond: string, detail?: string): boolean {
  if (c && debug_locks_off(k)) WARN(k, where, `DEBUG_LOCKS_WARN_ON(${cond})${detail === undefined ? "" : ` (${detail})`}`);
  return c;
}
