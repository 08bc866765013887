// kernel/sched/core.c: per-CPU runqueues, schedule(), wakeups and the scheduler tick.
//
// Policy: round-robin per runqueue (a FIFO of runnable tasks; the running task is not
// on it). Placement, within the task's cpus_allowed: a waking task goes back to its
// previous CPU if that CPU is idle, else to an idle CPU, else to its previous CPU
// (select_idle_sibling); a new task goes to the least loaded CPU; a CPU about to go
// idle pulls a queued task from the busiest runqueue (newidle_balance). So tasks
// migrate between CPUs whenever they sleep or wait, but never while running: a task
// with preemption disabled (get_cpu) cannot reach schedule() and stays put. The tick
// sets TIF_NEED_RESCHED on the running task when others are waiting; the switch
// happens at the next preemption point (cond_resched, return to user mode, blocking).
//
// The machine-dependent switch is the engine's cpu_switch (cpu_throw for a dead task);
// CR3 follows the next task's mm (kernel threads run on swapper_pg_dir).
//
// Locking: rq->lock is implicit; a runqueue is only touched by synchronous code.

import { current_cpu, on_cpu } from "../../../machine/engine.js";
import type { linux_kernel } from "../../init/main.js";
import {
  TASK_DEAD,
  TASK_NORMAL,
  TASK_RUNNING,
  TIF_NEED_RESCHED,
  type task_struct,
} from "../../include/linux/sched.js";
import { get_current, this_cpu, type percpu } from "../../arch/x86/kernel/percpu.js";
import { RESCHEDULE_VECTOR } from "../../arch/x86/kernel/irq_vectors.js";
import { BUG } from "../panic.js";
import { might_sleep } from "./might_sleep.js";
import { signal_pending_state } from "../signal.js";
import { tick_nohz_idle_exit, tick_nohz_idle_stop_tick } from "../time/tick.js";
import { put_task_stack } from "../fork.js";
import { switch_mm } from "../../arch/x86/mm/tlb.js";

export class rq {
  /** Runnable tasks waiting for this CPU, in round-robin order. */
  readonly queue: task_struct[] = [];
  nr_switches = 0;
  /** Tasks pulled from or pushed to this runqueue by load balancing. */
  nr_migrations = 0;

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
  if (p.cpu !== r.cpu) {
    p.nr_migrations++;
    r.nr_migrations++;
  }
  p.cpu = r.cpu;
  r.queue.push(p);
  if (r.curr === r.idle) resched_curr(k, r);
}

export const cpu_allowed = (p: task_struct, cpu: number): boolean => p.cpus_allowed === null || p.cpus_allowed.has(cpu);
const rq_idle = (r: rq): boolean => r.curr === r.idle && r.queue.length === 0;

/** select_task_rq: where a waking (or new, `fork`) task is queued. */
function select_task_rq(k: linux_kernel, p: task_struct, fork: boolean): rq {
  const prev = k.percpu[p.cpu].rq;
  if (!fork && cpu_allowed(p, prev.cpu) && rq_idle(prev)) return prev;
  let best: rq | null = null;
  for (const pc of k.percpu) {
    if (!cpu_allowed(p, pc.cpu_number)) continue;
    if (rq_idle(pc.rq)) return pc.rq;
    if (best === null || pc.rq.nr_running < best.nr_running) best = pc.rq;
  }
  if (!fork && cpu_allowed(p, prev.cpu)) return prev;
  if (best === null) throw new Error(`task ${p.comm}/${p.pid} has an empty cpus_allowed`);
  return best;
}

/** wake_up_new_task: a task from copy_process becomes runnable. */
export function wake_up_new_task(k: linux_kernel, p: task_struct): void {
  p.__state = TASK_RUNNING;
  enqueue_task(k, select_task_rq(k, p, true), p);
}

/** set_cpus_allowed_ptr: restrict where `p` runs; a task on a CPU it may no longer use
 *  moves at its next schedule() (the migration stopper's job). 0 or -EINVAL. */
export function set_cpus_allowed_ptr(k: linux_kernel, p: task_struct, cpus: ReadonlySet<number> | null): number {
  if (cpus !== null && ![...cpus].some((c) => c >= 0 && c < k.percpu.length)) return -22;
  p.cpus_allowed = cpus;
  if (cpu_allowed(p, p.cpu)) return 0;
  const r = k.percpu[p.cpu].rq;
  if (p.on_rq) {
    r.queue.splice(r.queue.indexOf(p), 1);
    enqueue_task(k, select_task_rq(k, p, true), p);
  } else if (r.curr === p) {
    resched_curr(k, r);
  }
  return 0;
}

/** newidle_balance: an idle CPU pulls the first queued task it may run from the
 *  busiest runqueue. */
function newidle_balance(k: linux_kernel, pc: percpu): boolean {
  let busiest: rq | null = null;
  for (const other of k.percpu) {
    if (other === pc || other.rq.queue.length === 0) continue;
    if (!other.rq.queue.some((t) => cpu_allowed(t, pc.cpu_number))) continue;
    if (busiest === null || other.rq.queue.length > busiest.queue.length) busiest = other.rq;
  }
  if (busiest === null) return false;
  const i = busiest.queue.findIndex((t) => cpu_allowed(t, pc.cpu_number));
  const [p] = busiest.queue.splice(i, 1);
  enqueue_task(k, pc.rq, p);
  return true;
}

/** try_to_wake_up: make `p` runnable if its state is in `state`; false if it was not. */
export function wake_up_state(k: linux_kernel, p: task_struct, state: number): boolean {
  if ((p.__state & state) === 0) return false;
  p.__state = TASK_RUNNING;
  const r = k.percpu[p.cpu].rq;
  // Still on its CPU (it set its state but has not reached schedule()): nothing to queue.
  if (r.curr === p || p.on_rq) return true;
  enqueue_task(k, select_task_rq(k, p, false), p);
  return true;
}

export const wake_up_process = (k: linux_kernel, p: task_struct): boolean => wake_up_state(k, p, TASK_NORMAL);

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
    if (cpu_allowed(prev, r.cpu)) {
      prev.on_rq = true;
      r.queue.push(prev);
    } else {
      enqueue_task(k, select_task_rq(k, prev, true), prev);
    }
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
    // Nothing runs on the dead task's stack after cpu_throw, so it is released here
    // rather than by the next task (finish_task_switch): page counts taken by anyone
    // after the task has died then see it freed.
    put_task_stack(k, prev);
    k.machine.cpu_throw(next.ctx);
    // The dead task's stack is never resumed.
    return new Promise<void>(() => {});
  }
  await k.machine.cpu_switch(next.ctx);
  finish_task_switch(k);
}

/** finish_task_switch: runs in the task that was switched to (schedule_tail for a new
 *  task). The engine has completed the switch; nothing is left to do. */
export function finish_task_switch(_k: linux_kernel): void {}

/** cond_resched: a preemption point. With nothing else to run here the task goes on,
 *  but the CPU still gives the engine a turn (cpu_yield): a CPU-bound kernel loop that
 *  calls cond_resched (the vcpu loop re-entering a guest that never exits to
 *  userspace) then lets the other CPUs run alongside it, as real CPUs would. */
export async function cond_resched(k: linux_kernel): Promise<void> {
  might_sleep(k, "cond_resched");
  if (need_resched(k)) await schedule(k);
  else await k.machine.cpu_yield();
}

/** irqentry_exit_cond_resched: the return from an interrupt taken in kernel mode
 *  preempts the task if a reschedule is due and preempt_count is 0. */
export async function irqentry_exit_cond_resched(k: linux_kernel): Promise<void> {
  const t = get_current(k);
  if (t.thread_info.preempt_count === 0 && need_resched(k) && current_cpu().intr_enabled) await schedule(k);
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
    while (!test_tsk_need_resched(pc.current_task) && pc.rq.queue.length === 0 && !newidle_balance(k, pc)) {
      // NO_HZ_IDLE: with nothing to run, the tick stops (the local timer stays armed
      // for pending hrtimers), so a machine with every CPU idle and no timer pending
      // has nothing left to do.
      tick_nohz_idle_stop_tick(pc);
      await k.machine.cpu_halt();
    }
    await schedule(k);
  }
}
