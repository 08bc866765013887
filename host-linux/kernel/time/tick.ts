// kernel/time/tick-common.c, tick-sched.c: the periodic tick on each CPU's local timer
// (TSC-deadline mode), stopped while the CPU is idle with nothing queued (NO_HZ_IDLE).
// The local timer also serves the CPU's hrtimers (kernel/time/hrtimer): its interrupt
// expires the due timers, then runs the tick if the tick is due.

import type { linux_kernel } from "../../init/main.js";
import type { percpu } from "../../arch/x86/kernel/percpu.js";
import { scheduler_tick } from "../sched/core.js";
import { clockevents_program, hrtimer_run_queues } from "./hrtimer.js";

/** Arm the next tick, one tick period (TSC cycles per 1/HZ s) from now. */
export function tick_program(k: linux_kernel, pc: percpu): void {
  pc.tick_next = pc.cpu.tsc + k.tick_period;
  pc.tick_stopped = false;
  clockevents_program(pc);
}

/** tick_nohz_idle_stop_tick: the idle loop has nothing to run; the local timer is left
 *  armed only for the CPU's hrtimers. */
export function tick_nohz_idle_stop_tick(pc: percpu): void {
  pc.tick_stopped = true;
  clockevents_program(pc);
}

/** tick_nohz_idle_exit: the CPU leaves idle; restart the tick. */
export function tick_nohz_idle_exit(k: linux_kernel, pc: percpu): void {
  if (pc.tick_stopped) tick_program(k, pc);
}

/** tick_handle_periodic: the LOCAL_TIMER_VECTOR handler (interrupt context). */
export function tick_handle_periodic(k: linux_kernel, pc: percpu): void {
  hrtimer_run_queues(pc);
  if (!pc.tick_stopped && pc.cpu.tsc >= pc.tick_next) {
    scheduler_tick(k, pc);
    if (pc.current_task === pc.rq.idle && pc.rq.queue.length === 0) pc.tick_stopped = true;
    else pc.tick_next = pc.cpu.tsc + k.tick_period;
  }
  clockevents_program(pc);
}
