// include/linux/spinlock.h. Holding a spinlock disables preemption: code between
// spin_lock and spin_unlock must not sleep (await anything that may block); the
// kernels check that at run time. spin_lock is awaited because a contender spins while
// the holder (on another CPU) is still inside, e.g. in a udelay.

import { linux_api } from "./export.js";
import { spinlock_t } from "./lock_types.js";

export { spinlock_t };

export const spin_lock_init = (lock: spinlock_t, name = "spinlock"): void => linux_api().spin_lock_init(lock, name);
/** Await it in process context: it returns a Promise when it has to spin. In an
 *  interrupt handler or another synchronous callback (kvm's emulator ops) call it
 *  without await: it is synchronous when the lock is free, and a lock whose holders
 *  never await inside their sections is always free to a synchronous caller. */
export const spin_lock = (lock: spinlock_t): void | Promise<void> => linux_api().spin_lock(lock);
export const spin_unlock = (lock: spinlock_t): void => linux_api().spin_unlock(lock);

/** DEFINE_SPINLOCK for a structure field: a lock initialised on first use would hide
 *  ordering bugs, so this returns an initialised lock for the running kernel. */
export function DEFINE_SPINLOCK(name: string): spinlock_t {
  const l = new spinlock_t();
  spin_lock_init(l, name);
  return l;
}
