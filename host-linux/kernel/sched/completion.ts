// kernel/sched/completion.c: a count of "done" events and a wait queue. complete()
// adds one and wakes one waiter; complete_all() makes it done for good (UINT_MAX) and
// wakes them all; each wait_for_completion() consumes one event, sleeping until there
// is one. Waiters queue exclusively (a complete() wakes exactly one of them) and in
// FIFO order.
//
// Locking: x->wait.lock is implicit; every change between two awaits is atomic.
// Completions are not lock classes: lockdep does not follow them (Linux did only with
// the short-lived CONFIG_LOCKDEP_COMPLETIONS).

import type { linux_kernel } from "../../init/main.js";
import { ERESTARTSYS } from "../../include/linux/errno.js";
import { TASK_INTERRUPTIBLE, TASK_RUNNING, TASK_UNINTERRUPTIBLE } from "../../include/linux/sched.js";
import type { completion } from "../../include/linux/completion_types.js";
import { get_current } from "../../arch/x86/kernel/percpu.js";
import { BUG } from "../panic.js";
import { signal_pending_state } from "../signal.js";
import { might_sleep } from "./might_sleep.js";
import { set_current_state } from "./core.js";
import { WQ_FLAG_EXCLUSIVE, type wait_queue_entry, __add_wait_queue_exclusive, __remove_wait_queue, wait_queue_head, wake_up, wake_up_all } from "./wait.js";
import { MAX_SCHEDULE_TIMEOUT, schedule_timeout } from "../time/timer.js";

const UINT_MAX = 0xffffffff;

export class completion_impl {
  done = 0;
  readonly wait = new wait_queue_head();
  constructor(readonly kernel: linux_kernel) {}
}

function impl(k: linux_kernel, x: completion): completion_impl {
  const c = x.impl;
  if (!(c instanceof completion_impl) || c.kernel !== k) BUG(k, "completion used before init_completion");
  return c;
}

export function init_completion(k: linux_kernel, x: completion): void {
  x.impl = new completion_impl(k);
}

/** reinit_completion: back to not done, for reuse (no waiter may be queued). */
export function reinit_completion(k: linux_kernel, x: completion): void {
  impl(k, x).done = 0;
}

export function complete(k: linux_kernel, x: completion): void {
  const c = impl(k, x);
  if (c.done !== UINT_MAX) c.done++;
  wake_up(k, c.wait);
}

export function complete_all(k: linux_kernel, x: completion): void {
  const c = impl(k, x);
  c.done = UINT_MAX;
  wake_up_all(k, c.wait);
}

/** do_wait_for_common: the jiffies left (at least 1) once an event is consumed, 0 on
 *  timeout, -ERESTARTSYS when a signal the state admits is pending. */
async function do_wait_for_common(k: linux_kernel, c: completion_impl, timeout: number, state: number): Promise<number> {
  if (c.done === 0) {
    const me = get_current(k);
    const wait: wait_queue_entry = { task: me, flags: WQ_FLAG_EXCLUSIVE, autoremove: false };
    do {
      if (signal_pending_state(state, me)) {
        timeout = -ERESTARTSYS;
        break;
      }
      __add_wait_queue_exclusive(c.wait, wait);
      set_current_state(k, state);
      timeout = await schedule_timeout(k, timeout);
    } while (c.done === 0 && timeout !== 0);
    set_current_state(k, TASK_RUNNING);
    __remove_wait_queue(c.wait, wait);
    if (c.done === 0) return timeout;
  }
  if (c.done !== UINT_MAX) c.done--;
  return timeout || 1;
}

async function wait_for_common(k: linux_kernel, x: completion, timeout: number, state: number, where: string): Promise<number> {
  const c = impl(k, x);
  might_sleep(k, `kernel/sched/completion.c:${where}`);
  return do_wait_for_common(k, c, timeout, state);
}

export async function wait_for_completion(k: linux_kernel, x: completion): Promise<void> {
  await wait_for_common(k, x, MAX_SCHEDULE_TIMEOUT, TASK_UNINTERRUPTIBLE, "wait_for_completion");
}

/** 0, or -ERESTARTSYS when a signal interrupted the wait. */
export async function wait_for_completion_interruptible(k: linux_kernel, x: completion): Promise<number> {
  const t = await wait_for_common(k, x, MAX_SCHEDULE_TIMEOUT, TASK_INTERRUPTIBLE, "wait_for_completion_interruptible");
  return t === -ERESTARTSYS ? t : 0;
}

/** 0 if `timeout` jiffies passed first, else the jiffies left (at least 1). */
export function wait_for_completion_timeout(k: linux_kernel, x: completion, timeout: number): Promise<number> {
  return wait_for_common(k, x, timeout, TASK_UNINTERRUPTIBLE, "wait_for_completion_timeout");
}

/** try_wait_for_completion: consume an event if there is one, without sleeping. */
export function try_wait_for_completion(k: linux_kernel, x: completion): boolean {
  const c = impl(k, x);
  if (c.done === 0) return false;
  if (c.done !== UINT_MAX) c.done--;
  return true;
}

/** completion_done: an event is there (a wait would not sleep). */
export function completion_done(k: linux_kernel, x: completion): boolean {
  return impl(k, x).done !== 0;
}
