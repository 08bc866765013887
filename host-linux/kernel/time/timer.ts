// kernel/time/timer.c (schedule_timeout) and kernel/time/time.c (msecs_to_jiffies):
// sleeping for a number of jiffies, 1/HZ s each.
//
// DIVERGENCE: Linux arms a timer_list on the jiffies timer wheel; here the sleeper is
// an hrtimer on this CPU's TSC, timeout * (TSC cycles per tick) away, and the time left
// is measured on the TSC too. The model's jiffies count CPU 0's ticks and stall while
// CPU 0 idles (NO_HZ without the catch-up tick_do_update_jiffies64 does), so they
// cannot time a sleep.

import type { linux_kernel } from "../../init/main.js";
import { get_current, this_cpu } from "../../arch/x86/kernel/percpu.js";
import { schedule, wake_up_process } from "../sched/core.js";
import { hrtimer_cancel, hrtimer_init, hrtimer_start } from "./hrtimer.js";
import { BUG } from "../panic.js";

/** LONG_MAX: sleep with no timeout. */
export const MAX_SCHEDULE_TIMEOUT = Number.MAX_SAFE_INTEGER;

/** msecs_to_jiffies: rounded up, so a wait is never shorter than asked. */
export function msecs_to_jiffies(k: linux_kernel, m: number): number {
  if (m < 0) return MAX_SCHEDULE_TIMEOUT;
  return Math.ceil((m * k.HZ) / 1000);
}

/**
 * schedule_timeout: the caller has set its state (TASK_INTERRUPTIBLE or
 * TASK_UNINTERRUPTIBLE) and sleeps until woken or `timeout` jiffies have passed.
 * Returns 0 when the timeout expired, else the jiffies that were left.
 */
export async function schedule_timeout(k: linux_kernel, timeout: number): Promise<number> {
  if (timeout === MAX_SCHEDULE_TIMEOUT) {
    await schedule(k);
    return MAX_SCHEDULE_TIMEOUT;
  }
  if (timeout < 0) BUG(k, `schedule_timeout: wrong timeout value ${timeout.toString(16)}`);
  const me = get_current(k);
  let fired = false;
  const expire = this_cpu(k).cpu.tsc + timeout * k.tick_period;
  // process_timeout
  const timer = hrtimer_init(() => {
    fired = true;
    wake_up_process(k, me);
  });
  hrtimer_start(k, timer, expire);
  await schedule(k);
  hrtimer_cancel(k, timer);
  if (fired) return 0;
  const left = Math.ceil((expire - this_cpu(k).cpu.tsc) / k.tick_period);
  return Math.min(timeout, Math.max(0, left));
}
