// kernel/locking/spinlock.c, spinlock_debug.c: raw spinlocks. spin_lock disables
// preemption; holding one, the task must not sleep (might_sleep trips).
//
// Contention: on a real SMP machine the second CPU spins until the holder, which
// cannot sleep, releases the lock a few instructions later. In this model synchronous
// code is never interleaved, so a lock found held means its holder gave up the CPU
// inside the critical section (slept, or is the interrupted task itself): that is the
// deadlock spinlock_debug reports, and it is reported at once.
//
// lockdep (spin_acquire / spin_release) sees the lock before the raw lock is touched,
// so a recursion or an unbalanced unlock gets lockdep's report first. DIVERGENCE:
// Linux's spin_bug is silent once debug_locks is off and then spins on; the model
// still stops the machine with the spinlock_debug BUG.

import type { linux_kernel } from "../../init/main.js";
import type { spinlock_t } from "../../include/linux/lock_types.js";
import type { task_struct } from "../../include/linux/sched.js";
import { get_current, this_cpu } from "../../arch/x86/kernel/percpu.js";
import { BUG } from "../panic.js";
import { preempt_disable, preempt_enable } from "../sched/might_sleep.js";
import { type lockdep_map, lock_acquire, lock_release, lockdep_init_map } from "./lockdep.js";

export const SPINLOCK_MAGIC = 0xdead4ead;

/** raw_spinlock_t with CONFIG_DEBUG_SPINLOCK. */
export class raw_spinlock {
  magic = SPINLOCK_MAGIC;
  locked = false;
  owner: task_struct | null = null;
  owner_cpu = -1;
  readonly dep_map: lockdep_map;

  constructor(
    readonly kernel: linux_kernel,
    readonly name: string,
  ) {
    this.dep_map = lockdep_init_map(kernel, name);
  }
}

export function spin_lock_init(k: linux_kernel, lock: spinlock_t, name: string): void {
  lock.impl = new raw_spinlock(k, name);
}

function spin_dump(k: linux_kernel, lock: spinlock_t, msg: string): never {
  const me = get_current(k);
  const cpu = this_cpu(k).cpu_number;
  const l = lock.impl instanceof raw_spinlock ? lock.impl : null;
  BUG(
    k,
    `spinlock ${msg} on CPU#${cpu}, ${me.comm}/${me.pid}`,
    l === null
      ? ` lock: (uninitialised), .magic: 00000000`
      : ` lock: ${l.name}, .magic: ${l.magic.toString(16)}, .owner: ${l.owner ? `${l.owner.comm}/${l.owner.pid}` : "<none>/-1"}, .owner_cpu: ${l.owner_cpu}`,
  );
}

function raw(k: linux_kernel, lock: spinlock_t): raw_spinlock {
  const l = lock.impl;
  if (!(l instanceof raw_spinlock) || l.magic !== SPINLOCK_MAGIC || l.kernel !== k) spin_dump(k, lock, "bad magic");
  return l;
}

export function spin_lock(k: linux_kernel, lock: spinlock_t): void {
  const l = raw(k, lock);
  const me = get_current(k);
  preempt_disable(k);
  lock_acquire(k, l.dep_map, l, false, "spin_lock");
  if (l.locked) {
    if (l.owner === me) spin_dump(k, lock, "recursion");
    spin_dump(k, lock, "lockup suspected (the holder slept holding it)");
  }
  l.locked = true;
  l.owner = me;
  l.owner_cpu = this_cpu(k).cpu_number;
}

export function spin_unlock(k: linux_kernel, lock: spinlock_t): void {
  const l = raw(k, lock);
  const me = get_current(k);
  lock_release(k, l.dep_map, l, "spin_unlock");
  if (!l.locked) spin_dump(k, lock, "already unlocked");
  if (l.owner !== me) spin_dump(k, lock, "wrong owner");
  if (l.owner_cpu !== this_cpu(k).cpu_number) spin_dump(k, lock, "wrong CPU");
  l.locked = false;
  l.owner = null;
  l.owner_cpu = -1;
  preempt_enable(k);
}
