// kernel/sched/wait.c, include/linux/wait.h: wait queues and wait_event().
//
// The condition is re-checked after the task has set its state and queued itself, so
// a wake_up between the check and schedule() only makes the schedule() return at once
// (it finds the task TASK_RUNNING again).

import type { linux_kernel } from "../../init/main.js";
import { ERESTARTSYS } from "../../include/linux/errno.js";
import {
  TASK_INTERRUPTIBLE,
  TASK_KILLABLE,
  TASK_NORMAL,
  TASK_RUNNING,
  TASK_UNINTERRUPTIBLE,
  type task_struct,
} from "../../include/linux/sched.js";
import { get_current } from "../../arch/x86/kernel/percpu.js";
import { might_sleep } from "./might_sleep.js";
import { schedule, set_current_state, wake_up_state } from "./core.js";
import { signal_pending_state } from "../signal.js";

/** wait_queue_entry->flags: an exclusive waiter (wakes alone: one wake_up, one waiter). */
export const WQ_FLAG_EXCLUSIVE = 0x01;

export interface wait_queue_entry {
  readonly task: task_struct;
  readonly flags?: number;
  /** wait_queue_entry->func: autoremove_wake_function (the default here) dequeues the
   *  entry it wakes; default_wake_function (false) leaves it queued until the waiter
   *  removes it, keeping its place if it has to sleep again. */
  readonly autoremove?: boolean;
}

export class wait_queue_head {
  readonly head: wait_queue_entry[] = [];
}

/** __add_wait_queue_entry_tail with WQ_FLAG_EXCLUSIVE: exclusive waiters queue behind
 *  the others, so a wake_up reaches every non-exclusive waiter first. */
export function __add_wait_queue_exclusive(wq: wait_queue_head, e: wait_queue_entry): void {
  if (!wq.head.includes(e)) wq.head.push(e);
}

export function __remove_wait_queue(wq: wait_queue_head, e: wait_queue_entry): void {
  const i = wq.head.indexOf(e);
  if (i >= 0) wq.head.splice(i, 1);
}

/** __wake_up_common: wake the waiters in one of `mode`'s states, stopping after
 *  `nr_exclusive` exclusive ones were woken (0: all); a waiter already awake does not
 *  count. */
function __wake_up(k: linux_kernel, wq: wait_queue_head, mode: number, nr_exclusive: number): void {
  for (const e of [...wq.head]) {
    if (!wake_up_state(k, e.task, mode)) continue;
    if (e.autoremove ?? true) __remove_wait_queue(wq, e);
    if (((e.flags ?? 0) & WQ_FLAG_EXCLUSIVE) !== 0 && --nr_exclusive === 0) break;
  }
}

export const wake_up = (k: linux_kernel, wq: wait_queue_head): void => __wake_up(k, wq, TASK_NORMAL, 1);
export const wake_up_all = (k: linux_kernel, wq: wait_queue_head): void => __wake_up(k, wq, TASK_NORMAL, 0);
export const wake_up_interruptible = (k: linux_kernel, wq: wait_queue_head): void => __wake_up(k, wq, TASK_INTERRUPTIBLE, 1);

/** ___wait_event: 0 when `condition` became true, -ERESTARTSYS when a signal (any for
 *  an interruptible wait, SIGKILL for a killable one) interrupted the wait. */
async function ___wait_event(k: linux_kernel, wq: wait_queue_head, condition: () => boolean, state: number, where: string): Promise<number> {
  might_sleep(k, where);
  if (condition()) return 0;
  const me = get_current(k);
  const entry: wait_queue_entry = { task: me };
  let ret = 0;
  for (;;) {
    if (signal_pending_state(state, me)) {
      ret = -ERESTARTSYS;
      break;
    }
    if (!wq.head.includes(entry)) wq.head.push(entry);
    set_current_state(k, state);
    if (condition()) break;
    await schedule(k);
  }
  // finish_wait
  set_current_state(k, TASK_RUNNING);
  const i = wq.head.indexOf(entry);
  if (i >= 0) wq.head.splice(i, 1);
  return ret;
}

export async function wait_event(k: linux_kernel, wq: wait_queue_head, condition: () => boolean): Promise<void> {
  await ___wait_event(k, wq, condition, TASK_UNINTERRUPTIBLE, "wait_event");
}
export const wait_event_interruptible = (k: linux_kernel, wq: wait_queue_head, condition: () => boolean): Promise<number> =>
  ___wait_event(k, wq, condition, TASK_INTERRUPTIBLE, "wait_event_interruptible");
export const wait_event_killable = (k: linux_kernel, wq: wait_queue_head, condition: () => boolean): Promise<number> =>
  ___wait_event(k, wq, condition, TASK_KILLABLE, "wait_event_killable");
