// kernel/sched/core.c: per-CPU runqueues, schedule(), wakeups and the scheduler tick.
//
// Policy: round-robin per runqueue (a FIFO of runnable tasks; the running task is not
// on it). A task stays on the CPU whose runqueue it is queued on (task->cpu); new tasks
// go to the runqueue with the fewest tasks. The tick sets TIF_NEED_RESCHED on the
// running task when others are waiting; the switch happens at the next preemption point
// (cond_resched, return to user mode, a blocking call).
//
// The machine-dependent switch is the engine's cpu_switch (cpu_throw for a dead task);
// CR3 follows the next task's mm (kernel threads run on swapper_pg_dir).
//
// Locking: rq->lock is implicit; a runqueue is only touched by synchronous code.

import { current_cpu, on_cpu } from "../../../machine/engine.js";
import type { linux_kernel } from "../../init/main.js";
import {
  TASK_DEAD,
  TASK_RUNNING,
  TIF_NEED_RESCHED,
  type task_struct,
} from "../../include/linux/sched.js";
import { get_current, this_cpu, type percpu } from "../../arch/x86/kernel/percpu.js";
import { RESCHEDULE_VECTOR } from "../../arch/x86/kernel/irq_vectors.js";
import { BUG } from "../panic.js";
import { might_sleep } from "./might_sleep.js";
import { signal_pending_state } from "../signal.js";
import { tick_nohz_idle_exit } from "../time/tick.js";
import { put_task_stack } from "../fork.js";
import { switch_mm } from "../../arch/x86/mm/tlb.js";

export class rq {
  /** Runnable tasks waiting for this CPU, in round-robin order. */
  readonly queue: task_struct[] = [];
  nr_switches = 0;
  /** A task that died in schedule(); its stack is released by finish_task_switch. */
  prev_dead: task_struct | null = null;

  constructor(
    readonly cpu: number,
    public curr: task_struct,
    readonly idle: task_struct,
  ) {}

  get nr_running(): number {
    return this.queue.length + (this.curr === this.idle ? 0 : 1);
  }
}

export function set_current_state(k: linux_kernel, state: number): void {
  get_current(k).__state = state;
}

export const test_tsk_need_resched = (t: task_struct): boolean => (t.thread_info.flags & TIF_NEED_RESCHED) !== 0;
export const need_resched = (k: linux_kernel): boolean => test_tsk_need_resched(get_current(k));

/** resched_curr: make rq->curr reschedule; a remote CPU gets a reschedule IPI (which
 *  also wakes it from HLT). */
export function resched_curr(k: linux_kernel, r: rq): void {
  r.curr.thread_info.flags |= TIF_NEED_RESCHED;
  const target = k.machine.cpus[r.cpu];
  const here = on_cpu() && current_cpu().machine === k.machine ? current_cpu().id : -1;
  if (here !== r.cpu) k.machine.send_ipi(target, RESCHEDULE_VECTOR);
}

function enqueue_task(k: linux_kernel, r: rq, p: task_struct): void {
  p.on_rq = true;
  p.cpu = r.cpu;
  r.queue.push(p);
  if (r.curr === r.idle) resched_curr(k, r);
}

/** select_task_rq for a new task: the runqueue with the fewest tasks, lowest CPU first. */
function select_task_rq(k: linux_kernel): rq {
  let best = k.percpu[0].rq;
  for (const pc of k.percpu) if (pc.rq.nr_running < best.nr_running) best = pc.rq;
  return best;
}

/** wake_up_new_task: a task from copy_process becomes runnable. */
export function wake_up_new_task(k: linux_kernel, p: task_struct): void {
  p.__state = TASK_RUNNING;
  enqueue_task(k, select_task_rq(k), p);
}

/** try_to_wake_up: make `p` runnable if its state is in `state`; false if it was not. */
export function wake_up_state(k: linux_kernel, p: task_struct, state: number): boolean {
  if ((p.__state & state) === 0) return false;
  p.__state = TASK_RUNNING;
  const r = k.percpu[p.cpu].rq;
  // Still on its CPU (it set its state but has not reached schedule()): nothing to queue.
  if (r.curr === p || p.on_rq) return true;
  enqueue_task(k, r, p);
  return true;
}

export const wake_up_process = (k: linux_kernel, p: task_struct): boolean => wake_up_state(k, p, ~TASK_RUNNING & 0xffff);

/** __schedule. The caller must not be atomic ("scheduling while atomic"). */
export async function schedule(k: linux_kernel): Promise<void> {
  const pc = this_cpu(k);
  const prev = pc.current_task;
  const r = pc.rq;
  if (pc.cpu.in_interrupt || (prev.thread_info.preempt_count !== 0 && prev.__state !== TASK_DEAD) || !pc.cpu.intr_enabled)
    BUG(k, `scheduling while atomic: ${prev.comm}/${prev.pid}/0x${prev.thread_info.preempt_count.toString(16).padStart(8, "0")}`,
      `irqs_disabled(): ${pc.cpu.intr_enabled ? 0 : 1}, in_interrupt(): ${pc.cpu.in_interrupt ? 1 : 0}`);
  prev.thread_info.flags &= ~TIF_NEED_RESCHED;
  if (prev.__state !== TASK_RUNNING && signal_pending_state(prev.__state, prev)) prev.__state = TASK_RUNNING;
  if (prev.__state === TASK_RUNNING && prev !== r.idle) {
    prev.on_rq = true;
    r.queue.push(prev);
  }
  const next = r.queue.shift() ?? r.idle;
  next.on_rq = false;
  if (next === prev) return;
  await context_switch(k, pc, r, prev, next);
}

async function context_switch(k: linux_kernel, pc: percpu, r: rq, prev: task_struct, next: task_struct): Promise<void> {
  r.curr = next;
  r.nr_switches++;
  pc.current_task = next;
  next.cpu = r.cpu;
  switch_mm(k, pc.cpu, next.mm);
  if (prev === r.idle) tick_nohz_idle_exit(k, pc);
  if (prev.__state === TASK_DEAD) {
    r.prev_dead = prev;
    k.machine.cpu_throw(next.ctx);
    // The dead task's stack is never resumed.
    return new Promise<void>(() => {});
  }
  await k.machine.cpu_switch(next.ctx);
  finish_task_switch(k);
}

/** finish_task_switch: runs in the task that was switched to (schedule_tail for a new
 *  task); releases the stack of a task that died switching away. */
export function finish_task_switch(k: linux_kernel): void {
  const r = this_cpu(k).rq;
  const dead = r.prev_dead;
  if (dead !== null) {
    r.prev_dead = null;
    put_task_stack(k, dead);
  }
}

/** cond_resched: a preemption point. */
export async function cond_resched(k: linux_kernel): Promise<void> {
  might_sleep(k, "cond_resched");
  if (need_resched(k)) await schedule(k);
}

/** scheduler_tick, from the timer interrupt: time slices are one tick. */
export function scheduler_tick(k: linux_kernel, pc: percpu): void {
  k.jiffies += pc.cpu_number === 0 ? 1 : 0;
  if (pc.rq.queue.length > 0) pc.current_task.thread_info.flags |= TIF_NEED_RESCHED;
}

/** The idle task's loop (do_idle): halt until something is runnable. */
export async function do_idle(k: linux_kernel): Promise<void> {
  for (;;) {
    const pc = this_cpu(k);
    while (!test_tsk_need_resched(pc.current_task) && pc.rq.queue.length === 0) {
      // NO_HZ_IDLE: with nothing to run, the tick stops, so a machine with every CPU
      // idle and no timer armed has nothing left to do.
      pc.tick_stopped = true;
      pc.cpu.timer_deadline = null;
      await k.machine.cpu_halt();
    }
    await schedule(k);
  }
}
