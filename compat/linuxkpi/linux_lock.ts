// sys/compat/linuxkpi/common/include/linux/spinlock.h, mutex.h, src/linux_lock.c.
//
// spinlock_t -> struct mtx. LinuxKPI uses an MTX_DEF sleep mutex and pins the thread
// (spin_lock = mtx_lock + local_bh_disable = sched_pin). The mtx_spin preset uses an
// MTX_SPIN mutex instead (interrupts off, critical section).
// struct mutex -> sx(9), exclusive; mutex_lock_interruptible -> sx_xlock_sig. The
// sema preset uses a sema(9) initialised to 1 instead (the 2007 port's plan).

import { panic } from "../../host-freebsd/kern/kern_shutdown.js";
import { mtx, mtx_destroy, mtx_init, mtx_lock, mtx_lock_spin, mtx_unlock, mtx_unlock_spin, MTX_DEF, MTX_SPIN } from "../../host-freebsd/kern/kern_mutex.js";
import { sx, sx_destroy, sx_init_flags, sx_xlock, sx_xlock_sig, sx_xunlock } from "../../host-freebsd/kern/kern_sx.js";
import { sched_pin, sched_unpin } from "../../host-freebsd/kern/sched_ule.js";
import { sema, sema_destroy, sema_init, sema_post, sema_wait } from "../../host-freebsd/kern/kern_sema.js";
import { EINTR } from "../linux/errno.js";
import type { mutex, semaphore, spinlock_t } from "../linux/lock_types.js";
import type { linuxkpi_state } from "./linuxkpi_state.js";

function lock_mtx(lock: spinlock_t, what: string): mtx {
  if (!(lock.impl instanceof mtx)) panic(`${what}: spinlock not initialized (spin_lock_init)`);
  return lock.impl;
}

/** The 2007 snapshot's spinlock_t and struct mutex (spinlock/mutex preset "none"):
 *  "Comment out spinlock and mutex implementations ... By now just ignore the problem". */
const LOCK_COMMENTED_OUT = "lock commented out (2007 snapshot)";

export function linux_spin_lock_init(s: linuxkpi_state, lock: spinlock_t, name: string): void {
  if (s.config.spinlock === "none") {
    lock.impl = LOCK_COMMENTED_OUT;
    return;
  }
  const m = new mtx(name);
  mtx_init(m, name, null, s.config.spinlock === "mtx_spin" ? MTX_SPIN : MTX_DEF);
  lock.impl = m;
}

/**
 * spin_lock.
 * DIVERGENCE: with the default (LinuxKPI) mapping the holder of a Linux spinlock holds
 * an MTX_DEF: preemption stays enabled (the thread is only pinned), interrupts stay
 * enabled, and a contender blocks on the turnstile instead of spinning. Sleeping
 * while holding it is still caught, by WITNESS instead of might_sleep.
 */
export function linux_spin_lock(s: linuxkpi_state, lock: spinlock_t): void | Promise<void> {
  // DIVERGENCE (none preset): no mutual exclusion and no preemption control at all.
  if (s.config.spinlock === "none") return;
  const m = lock_mtx(lock, "spin_lock");
  if (s.config.spinlock === "mtx_spin") {
    // DIVERGENCE (mtx_spin preset): interrupts are disabled and the thread is in a
    // critical section while it holds the lock, stricter than Linux's spin_lock: even
    // GFP_ATOMIC allocations and kfree panic in malloc(9)/free(9) there.
    return mtx_lock_spin(m);
  }
  // Synchronous when the mutex is free, as the Linux API promises (compat/linux/spinlock.ts).
  const blocked = mtx_lock(m);
  if (blocked === undefined) {
    sched_pin();
    return;
  }
  return blocked.then(() => sched_pin());
}

export function linux_spin_unlock(s: linuxkpi_state, lock: spinlock_t): void {
  if (s.config.spinlock === "none") return;
  const m = lock_mtx(lock, "spin_unlock");
  if (s.config.spinlock === "mtx_spin") {
    mtx_unlock_spin(m);
    return;
  }
  mtx_unlock(m);
  sched_unpin();
}

export function linux_spin_lock_destroy(lock: spinlock_t): void {
  if (lock.impl instanceof mtx) mtx_destroy(lock.impl);
}

function lock_impl(lock: mutex, what: string): sx | sema | mtx {
  if (!(lock.impl instanceof sx) && !(lock.impl instanceof sema) && !(lock.impl instanceof mtx)) panic(`${what}: mutex not initialized (mutex_init)`);
  return lock.impl;
}

export function linux_mutex_init(s: linuxkpi_state, lock: mutex, name: string): void {
  if (s.config.mutex === "none") {
    // DIVERGENCE (none preset): no mutual exclusion.
    lock.impl = LOCK_COMMENTED_OUT;
    return;
  }
  if (s.config.mutex === "mtx_def") {
    // DIVERGENCE (mtx_def preset): a sleep mutex may block but not sleep, so a Linux
    // mutex held across a sleeping call (legal on Linux) makes WITNESS panic "sleeping
    // with ... non-sleepable locks held"; and it has an owner, so only count-one uses fit.
    const m = new mtx(name);
    mtx_init(m, name, null, MTX_DEF);
    lock.impl = m;
    return;
  }
  if (s.config.mutex === "sema") {
    // DIVERGENCE (sema preset): the mutex has no owner. Locking it twice deadlocks (as
    // on Linux) instead of panicking, unlocking it from another thread goes unnoticed,
    // and WITNESS does not see it: taking it under a spinlock is only caught when it
    // has to wait.
    const sm = new sema();
    sema_init(sm, 1, name);
    lock.impl = sm;
    return;
  }
  const x = new sx(name);
  sx_init_flags(x, name, 0);
  lock.impl = x;
}

/** mutex_lock. DIVERGENCE: taking a mutex the thread already holds panics (sx
 *  "recursed on non-recursive sx") where Linux deadlocks (or lockdep reports it); an
 *  uncontended mutex_lock in atomic context is caught by WITNESS's lock-order check
 *  (sleepable sx under a mutex), not by might_sleep. */
export async function linux_mutex_lock(lock: mutex): Promise<void> {
  if (lock.impl === LOCK_COMMENTED_OUT) return;
  const l = lock_impl(lock, "mutex_lock");
  if (l instanceof sema) await sema_wait(l);
  else if (l instanceof mtx) await mtx_lock(l);
  else await sx_xlock(l);
}

/** 0, or -EINTR when a signal arrives while waiting (sx_xlock_sig).
 *  DIVERGENCE: any pending signal interrupts the wait; Linux's TASK_INTERRUPTIBLE wait
 *  ignores signals the task blocks or ignores (the model's processes have no masks). */
export async function linux_mutex_lock_interruptible(lock: mutex): Promise<number> {
  if (lock.impl === LOCK_COMMENTED_OUT) return 0;
  const l = lock_impl(lock, "mutex_lock_interruptible");
  if (l instanceof mtx) {
    await mtx_lock(l);
    return 0;
  }
  if (l instanceof sema) {
    // DIVERGENCE (sema preset): sema_wait cannot be interrupted; like LinuxKPI's
    // down_interruptible this always returns 0, after waiting as long as it takes.
    await sema_wait(l);
    return 0;
  }
  const error = await sx_xlock_sig(l);
  return error === 0 ? 0 : -EINTR;
}

export function linux_mutex_unlock(lock: mutex): void {
  if (lock.impl === LOCK_COMMENTED_OUT) return;
  const l = lock_impl(lock, "mutex_unlock");
  if (l instanceof sema) sema_post(l);
  else if (l instanceof mtx) mtx_unlock(l);
  else sx_xunlock(l);
}

export function linux_mutex_destroy(lock: mutex): void {
  if (lock.impl === LOCK_COMMENTED_OUT) return;
  const l = lock_impl(lock, "mutex_destroy");
  if (l instanceof sema) sema_destroy(l);
  else if (l instanceof mtx) mtx_destroy(l);
  else sx_destroy(l);
}

/**
 * struct semaphore -> sema(9) with the same count (LinuxKPI, and the 2007 port's
 * "Will move to sema(9)"). Presets:
 * DIVERGENCE (semaphore "mtx_def", the port before Jul 24 2007): a sleep mutex. The count
 * is lost (a mutex starts unlocked): a count above one admits one holder at a time; with
 * a count of zero down() does not wait, and the down()er returns holding the mutex (a
 * panic at the return to user mode) while an up() from another thread is an unlock by a
 * non-owner (a panic); sleeping between down() and up() panics in WITNESS.
 * DIVERGENCE (semaphore "none", the 2007 snapshot): down and up do nothing.
 */
export function linux_sema_init(s: linuxkpi_state, sem: semaphore, val: number, name: string): void {
  const mode = s.config.semaphore ?? "sema";
  if (mode === "none") {
    sem.impl = LOCK_COMMENTED_OUT;
    return;
  }
  if (mode === "mtx_def") {
    const m = new mtx(name);
    mtx_init(m, name, null, MTX_DEF);
    sem.impl = m;
    return;
  }
  const sm = new sema();
  sema_init(sm, val, name);
  sem.impl = sm;
}

export async function linux_down(sem: semaphore): Promise<void> {
  const l = sem.impl;
  if (l === LOCK_COMMENTED_OUT) return;
  if (l instanceof mtx) await mtx_lock(l);
  else if (l instanceof sema) await sema_wait(l);
  else panic("down: semaphore not initialized (sema_init)");
}

export function linux_up(sem: semaphore): void {
  const l = sem.impl;
  if (l === LOCK_COMMENTED_OUT) return;
  if (l instanceof mtx) mtx_unlock(l);
  else if (l instanceof sema) sema_post(l);
  else panic("up: semaphore not initialized (sema_init)");
}
