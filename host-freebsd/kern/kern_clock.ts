// sys/kern/kern_clock.c: hardclock, the periodic tick from each CPU's local timer
// (TSC-deadline, one tick every k.tick_cycles). It runs the callouts that are due and
// charges the running thread's time slice (sched_clock), which sets TDF_NEEDRESCHED.
//
// Idle CPUs are tickless (as with FreeBSD's event timers): the timer is re-armed only
// while the CPU runs a thread or a callout is pending, so a machine with nothing left
// to do stops.

import type { pcpu } from "../sys/pcpu.js";
import { TD_IS_IDLETHREAD } from "../sys/proc.js";
import { callout_process } from "./kern_timeout.js";
import { sched_clock } from "./sched_ule.js";

export function hardclock(pc: pcpu): void {
  const k = pc.pc_kernel;
  const cpu = pc.pc_cpu;
  pc.pc_ticks++;
  k.ticks = Math.max(k.ticks, Math.floor(cpu.tsc / k.tick_cycles));
  callout_process(k, cpu.tsc);
  sched_clock(pc);
  cpu_rearm_clock(pc);
}

/** Program the next tick: always while a thread runs, else only for a pending callout. */
export function cpu_rearm_clock(pc: pcpu): void {
  const k = pc.pc_kernel;
  const cpu = pc.pc_cpu;
  if (!TD_IS_IDLETHREAD(pc.pc_curthread) || pc.pc_runq.length > 0) cpu.timer_deadline = cpu.tsc + k.tick_cycles;
  else if (k.callouts.length > 0) cpu.timer_deadline = Math.max(cpu.tsc + 1, k.callouts[0].c_time);
  else cpu.timer_deadline = null;
}
