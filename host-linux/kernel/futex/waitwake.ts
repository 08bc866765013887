// kernel/futex/waitwake.c: FUTEX_WAIT and FUTEX_WAKE (and their _BITSET forms).
//
// The waiter's protocol against lost wakeups: under the bucket lock it reads the futex
// word and queues itself only if the word still holds the value the caller saw (else
// -EAGAIN: the caller's view is stale, it must look again); a waker changes the word
// first, then walks the bucket. Read-and-queue is one synchronous step here, so a wake
// either finds the waiter queued or the waiter finds the word already changed.
//
// A woken waiter has been unqueued by its waker (return 0). A waiter that finds itself
// still queued after schedule() was interrupted: by its timeout (an hrtimer sleeper:
// -ETIMEDOUT), by a signal (-ERESTARTSYS, which becomes -EINTR for a caught signal, and
// lets SIGKILL take the thread on its way out) or spuriously (it starts over). Either
// way it unqueues itself and cancels its timer, so a killed thread leaves nothing on the
// hash or the timer bases.

import type { linux_kernel } from "../../init/main.js";
import { EAGAIN, EFAULT, EINVAL, ERESTARTSYS, ETIMEDOUT } from "../../include/linux/errno.js";
import { TASK_INTERRUPTIBLE, TASK_NORMAL, TASK_RUNNING } from "../../include/linux/sched.js";
import { get_current } from "../../arch/x86/kernel/percpu.js";
import { get_user_u32 } from "../../lib/usercopy.js";
import { schedule, set_current_state, wake_up_process, wake_up_state } from "../sched/core.js";
import { hrtimer_cancel, hrtimer_init, hrtimer_start } from "../time/hrtimer.js";
import { might_sleep } from "../sched/might_sleep.js";
import { signal_pending } from "../signal.js";
import { type futex_q, futex_hash, futex_match, get_futex_key } from "./core.js";

/** unqueue_me: 1 if q was still queued (nobody woke us), 0 if a waker took it. */
function unqueue_me(k: linux_kernel, q: futex_q): number {
  if (!q.queued) return 0;
  const hb = futex_hash(k, q.key);
  const i = hb.chain.indexOf(q);
  if (i >= 0) hb.chain.splice(i, 1);
  q.queued = false;
  return 1;
}

/** futex_wait: 0 when woken by FUTEX_WAKE, -EAGAIN when *uaddr != val, -ETIMEDOUT
 *  when `abs_time` (TSC cycles on this CPU, or null for no timeout) passed first,
 *  -ERESTARTSYS when a signal came first, -EFAULT/-EINVAL for a bad address. */
export async function futex_wait(k: linux_kernel, uaddr: number, flags: number, val: number, abs_time: number | null, bitset: number): Promise<number> {
  if (bitset === 0) return -EINVAL;
  might_sleep(k, "kernel/futex/waitwake.c:futex_wait");
  const me = get_current(k);
  // hrtimer_sleeper: the timer wakes the task and clears `task` to say it fired.
  const to = abs_time === null ? null : { task: me as typeof me | null, timer: hrtimer_init(() => {
    const t = to!.task;
    to!.task = null;
    if (t !== null) wake_up_process(k, t);
  }) };
  if (to !== null) hrtimer_start(k, to.timer, abs_time!);
  try {
    for (;;) {
      // futex_wait_setup
      const key = await get_futex_key(k, uaddr, flags, false);
      if (typeof key === "number") return key;
      const hb = futex_hash(k, key);
      const uval = get_user_u32(k, uaddr);
      if (uval === -EFAULT) return -EFAULT;
      if (uval !== val >>> 0) return -EAGAIN;
      // futex_wait_queue
      const q: futex_q = { task: me, key, bitset, queued: true };
      set_current_state(k, TASK_INTERRUPTIBLE);
      hb.chain.push(q);
      // A timeout that already passed does not sleep.
      if (to === null || to.task !== null) await schedule(k);
      set_current_state(k, TASK_RUNNING);
      if (!unqueue_me(k, q)) return 0;
      if (to !== null && to.task === null) return -ETIMEDOUT;
      if (signal_pending(me)) return -ERESTARTSYS;
      // A spurious wakeup: look at the word again.
    }
  } finally {
    if (to !== null) hrtimer_cancel(k, to.timer);
  }
}

/** futex_wake: wake up to nr_wake waiters on uaddr whose bitset intersects `bitset`;
 *  the number woken. (As on Linux, nr_wake <= 0 still wakes one.) */
export async function futex_wake(k: linux_kernel, uaddr: number, flags: number, nr_wake: number, bitset: number): Promise<number> {
  if (bitset === 0) return -EINVAL;
  const key = await get_futex_key(k, uaddr, flags, false);
  if (typeof key === "number") return key;
  const hb = futex_hash(k, key);
  let ret = 0;
  for (const q of [...hb.chain]) {
    if (!futex_match(q.key, key) || (q.bitset & bitset) === 0) continue;
    // futex_wake_mark: unqueue, then wake (wake_up_q).
    hb.chain.splice(hb.chain.indexOf(q), 1);
    q.queued = false;
    wake_up_state(k, q.task, TASK_NORMAL);
    if (++ret >= nr_wake) break;
  }
  return ret;
}

/** The number of waiters queued on the whole hash (for leak checks). */
export function futex_waiters(k: linux_kernel): number {
  return k.futex_queues.reduce((n, hb) => n + hb.chain.length, 0);
}
