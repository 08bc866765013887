// kernel/locking/semaphore.c: a count and a FIFO of sleeping waiters. down() takes one
// unit or sleeps (TASK_UNINTERRUPTIBLE) until up() hands it one; no owner, so any task
// may up(), and the count may start anywhere (0 for a completion-like use, >1 for a pool).
// Not a lockdep class: Linux's struct semaphore has no lockdep_map either.

import type { linux_kernel } from "../../init/main.js";
import type { semaphore } from "../../include/linux/lock_types.js";
import { TASK_RUNNING, TASK_UNINTERRUPTIBLE, type task_struct } from "../../include/linux/sched.js";
import { get_current } from "../../arch/x86/kernel/percpu.js";
import { BUG } from "../panic.js";
import { might_sleep } from "../sched/might_sleep.js";
import { schedule, set_current_state, wake_up_process } from "../sched/core.js";

class semaphore_impl {
  /** Units handed to a waiter by up() but not yet taken by it. */
  readonly granted = new Set<task_struct>();
  readonly wait_list: task_struct[] = [];
  constructor(
    readonly kernel: linux_kernel,
    public count: number,
    readonly name: string,
  ) {}
}

function impl(k: linux_kernel, sem: semaphore): semaphore_impl {
  const s = sem.impl;
  if (!(s instanceof semaphore_impl) || s.kernel !== k) BUG(k, "semaphore used before sema_init");
  return s;
}

export function sema_init(k: linux_kernel, sem: semaphore, val: number, name: string): void {
  sem.impl = new semaphore_impl(k, val, name);
}

export async function down(k: linux_kernel, sem: semaphore): Promise<void> {
  const s = impl(k, sem);
  might_sleep(k, "kernel/locking/semaphore.c:down");
  if (s.count > 0) {
    s.count--;
    return;
  }
  const me = get_current(k);
  s.wait_list.push(me);
  while (!s.granted.has(me)) {
    set_current_state(k, TASK_UNINTERRUPTIBLE);
    await schedule(k);
  }
  set_current_state(k, TASK_RUNNING);
  s.granted.delete(me);
}

export function up(k: linux_kernel, sem: semaphore): void {
  const s = impl(k, sem);
  const next = s.wait_list.shift();
  if (next === undefined) {
    s.count++;
    return;
  }
  s.granted.add(next);
  wake_up_process(k, next);
}
