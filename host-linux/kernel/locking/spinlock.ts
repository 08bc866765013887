// kernel/locking/spinlock.c, spinlock_debug.c: raw spinlocks. spin_lock disables
// preemption; holding one, the task must not sleep (might_sleep trips).
//
// Contention: the second CPU spins (cpu_relax: simulated time passes on this CPU while
// the others run, and nothing else runs on it, since preemption is off) until the
// holder releases the lock. A holder may busy-wait inside (udelay), so on SMP a
// contender really waits. Spinning for a second (CONFIG_DEBUG_SPINLOCK's
// loops_per_jiffy * HZ) reports "spinlock lockup suspected": the holder slept with the
// lock, or the contender interrupted its own holder on this CPU.
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
import { TSC_KHZ } from "../../arch/x86/kernel/tsc.js";
import { in_interrupt, preempt_disable, preempt_enable } from "../sched/might_sleep.js";
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

/** Cycles a contender spins before spinlock_debug reports a lockup: one second. */
export const SPIN_LOCKUP_CYCLES = TSC_KHZ * 1000;
/** The longest pause between two looks at a contended lock (cpu_relax, backing off). */
const SPIN_MAX_PAUSE = 1 << 16;

/** spin_lock: synchronous when the lock is free (so an interrupt handler, which runs
 *  synchronously, can take it); a Promise to await when it must spin. */
export function spin_lock(k: linux_kernel, lock: spinlock_t): void | Promise<void> {
  const l = raw(k, lock);
  const me = get_current(k);
  preempt_disable(k);
  lock_acquire(k, l.dep_map, l, false, "spin_lock");
  if (!l.locked) return take(k, l, me);
  if (l.owner === me) spin_dump(k, lock, "recursion");
  // DIVERGENCE (model): interrupt handlers run synchronously, so one cannot spin; a lock
  // contended in interrupt context is reported at once.
  if (in_interrupt(k)) spin_dump(k, lock, "lockup suspected (contended in interrupt context, where the model cannot spin)");
  return spin_wait(k, lock, l, me);
}

/** __spin_lock_debug: spin, preemption off, until the holder lets go. */
async function spin_wait(k: linux_kernel, lock: spinlock_t, l: raw_spinlock, me: task_struct): Promise<void> {
  const cpu = this_cpu(k).cpu;
  const start = cpu.tsc;
  let pause = 64;
  while (l.locked) {
    if (cpu.tsc - start >= SPIN_LOCKUP_CYCLES) spin_dump(k, lock, "lockup suspected");
    await k.machine.cpu_yield(pause);
    pause = Math.min(pause * 2, SPIN_MAX_PAUSE);
  }
  take(k, l, me);
}

function take(k: linux_kernel, l: raw_spinlock, me: task_struct): void {
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
