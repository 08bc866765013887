// kernel/locking/mutex.c, mutex-debug.c: sleeping locks with an owner.
//
// A task that finds the mutex held queues itself on wait_list (FIFO), sleeps
// (TASK_UNINTERRUPTIBLE, or TASK_INTERRUPTIBLE for mutex_lock_interruptible, which
// gives up with -EINTR when a signal is pending) and retries when woken. mutex_unlock
// releases the lock and wakes the first waiter. The CONFIG_DEBUG_MUTEXES checks warn
// (DEBUG_LOCKS_WARN_ON, once: they share debug_locks with lockdep) about unlock by a
// non-owner and destroying a held mutex.
//
// lockdep: mutex_acquire is called before the task waits (a waiter is on its own
// held_locks stack while it sleeps, as in Linux), mutex_release when it gives up
// (-EINTR) or unlocks; a trylock is annotated only when it succeeds. Locking a mutex the
// task already holds is reported by lockdep ("possible recursive locking") and is a
// deadlock: the task would sleep forever, so the model stops the machine.

import type { linux_kernel } from "../../init/main.js";
import { EINTR } from "../../include/linux/errno.js";
import type { mutex } from "../../include/linux/lock_types.js";
import { TASK_INTERRUPTIBLE, TASK_RUNNING, TASK_UNINTERRUPTIBLE, type task_struct } from "../../include/linux/sched.js";
import { get_current } from "../../arch/x86/kernel/percpu.js";
import { BUG } from "../panic.js";
import { DEBUG_LOCKS_WARN_ON } from "../../lib/debug_locks.js";
import { type lockdep_map, lock_acquire, lock_release, lockdep_drop_held, lockdep_init_map } from "./lockdep.js";
import { might_sleep } from "../sched/might_sleep.js";
import { schedule, set_current_state, wake_up_process } from "../sched/core.js";
import { signal_pending_state } from "../signal.js";

const MUTEX_MAGIC = 0x4d555458;

export class mutex_impl {
  magic = MUTEX_MAGIC;
  owner: task_struct | null = null;
  readonly wait_list: task_struct[] = [];
  readonly dep_map: lockdep_map;

  constructor(
    readonly kernel: linux_kernel,
    readonly name: string,
  ) {
    this.dep_map = lockdep_init_map(kernel, name);
  }
}

export function mutex_init(k: linux_kernel, lock: mutex, name: string): void {
  lock.impl = new mutex_impl(k, name);
}

function impl(k: linux_kernel, lock: mutex): mutex_impl {
  const m = lock.impl;
  if (!(m instanceof mutex_impl) || m.magic !== MUTEX_MAGIC || m.kernel !== k)
    BUG(k, `mutex used before mutex_init (DEBUG_LOCKS_WARN_ON(lock->magic != lock))`);
  return m;
}

export const mutex_is_locked = (k: linux_kernel, lock: mutex): boolean => impl(k, lock).owner !== null;

async function __mutex_lock_common(k: linux_kernel, lock: mutex, state: number): Promise<number> {
  const m = impl(k, lock);
  might_sleep(k, `kernel/locking/mutex.c:${state === TASK_INTERRUPTIBLE ? "mutex_lock_interruptible" : "mutex_lock"}`);
  const me = get_current(k);
  const ip = state === TASK_INTERRUPTIBLE ? "mutex_lock_interruptible" : "mutex_lock";
  lock_acquire(k, m.dep_map, m, false, ip);
  if (m.owner === me)
    BUG(k, `possible recursive locking detected`, `${me.comm}/${me.pid} is trying to acquire lock ${m.name} but already holds it`);
  if (m.owner === null) {
    m.owner = me;
    return 0;
  }
  m.wait_list.push(me);
  let ret = 0;
  for (;;) {
    if (m.owner === null) break;
    if (signal_pending_state(state, me)) {
      ret = -EINTR;
      break;
    }
    set_current_state(k, state);
    await schedule(k);
  }
  set_current_state(k, TASK_RUNNING);
  m.wait_list.splice(m.wait_list.indexOf(me), 1);
  if (ret === 0) {
    m.owner = me;
  } else {
    lock_release(k, m.dep_map, m, ip);
    // The wakeup meant for this waiter passes to the next one.
    if (m.owner === null && m.wait_list.length > 0) wake_up_process(k, m.wait_list[0]);
  }
  return ret;
}

export async function mutex_lock(k: linux_kernel, lock: mutex): Promise<void> {
  await __mutex_lock_common(k, lock, TASK_UNINTERRUPTIBLE);
}

export function mutex_lock_interruptible(k: linux_kernel, lock: mutex): Promise<number> {
  return __mutex_lock_common(k, lock, TASK_INTERRUPTIBLE);
}

export function mutex_trylock(k: linux_kernel, lock: mutex): boolean {
  const m = impl(k, lock);
  if (m.owner !== null) return false;
  m.owner = get_current(k);
  lock_acquire(k, m.dep_map, m, true, "mutex_trylock");
  return true;
}

export function mutex_unlock(k: linux_kernel, lock: mutex): void {
  const m = impl(k, lock);
  const me = get_current(k);
  lock_release(k, m.dep_map, m, "mutex_unlock");
  DEBUG_LOCKS_WARN_ON(k, m.owner !== me, "kernel/locking/mutex.c __mutex_unlock_slowpath",
    "__owner_task(owner) != current", `${m.name} owned by ${m.owner ? `${m.owner.comm}/${m.owner.pid}` : "nobody"}, unlocked by ${me.comm}/${me.pid}`);
  if (m.owner === null) return;
  // A non-owner's unlock still releases the mutex: it leaves the owner's stack.
  if (m.owner !== me) lockdep_drop_held(m.owner, m);
  m.owner = null;
  const first = m.wait_list[0];
  if (first !== undefined) wake_up_process(k, first);
}

export function mutex_destroy(k: linux_kernel, lock: mutex): void {
  const m = impl(k, lock);
  DEBUG_LOCKS_WARN_ON(k, m.owner !== null, "kernel/locking/mutex-debug.c mutex_destroy", "mutex_is_locked(lock)", m.name);
  m.magic = 0;
}
