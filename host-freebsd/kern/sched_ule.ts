// sys/kern/sched_ule.c, reduced: one run queue per CPU (tdq), FIFO within it, a time
// slice of k.sched_slice ticks, and CPU selection on wakeup that prefers the CPU a
// thread last ran on, then an idle CPU. A pinned thread (td_pinned > 0, sched_pin)
// always goes back to td_lastcpu: it may sleep, but it resumes on the same CPU.
//
// Locking: the run queues are touched only in synchronous code, which no other CPU can
// interleave with (the model's tdq lock).

import { pcpu, curpcpu, curthread } from "../sys/pcpu.js";
import { NOCPU } from "../sys/param.js";
import { TDF_NEEDRESCHED, TD_IS_IDLETHREAD, type thread } from "../sys/proc.js";
import type { kernel } from "../sys/kernel.js";
import { panic } from "./kern_shutdown.js";
import { IPI_AST } from "../amd64/intr_machdep.js";
import { pmap_activate_cr3 } from "../amd64/pmap.js";

function cpu_is_idle(pc: pcpu): boolean {
  return TD_IS_IDLETHREAD(pc.pc_curthread) && pc.pc_runq.length === 0;
}

/** sched_pickcpu: where a thread that becomes runnable should run. */
export function sched_pickcpu(k: kernel, td: thread): number {
  const last = td.td_lastcpu >= 0 ? td.td_lastcpu : 0;
  if (td.td_pinned > 0) return last;
  const started = k.pcpus.filter((p) => p.pc_started);
  const lastpc = k.pcpus[last];
  if (lastpc.pc_started && cpu_is_idle(lastpc)) return last;
  for (let i = 1; i <= k.ncpu; i++) {
    const pc = k.pcpus[(last + i) % k.ncpu];
    if (pc.pc_started && cpu_is_idle(pc)) return pc.pc_cpuid;
  }
  // Everyone is busy: the shortest queue, the last CPU on ties.
  let best = lastpc.pc_started ? lastpc : started[0];
  for (const pc of started) if (pc.pc_runq.length < best.pc_runq.length) best = pc;
  return best.pc_cpuid;
}

/** sched_add: make td runnable on the CPU sched_pickcpu chooses. */
export function sched_add(k: kernel, td: thread): void {
  if (td.td_state === "TDS_RUNQ" || td.td_state === "TDS_RUNNING") panic(`sched_add: thread ${td.td_name} is ${td.td_state}`);
  if (TD_IS_IDLETHREAD(td)) panic("sched_add: idle thread");
  const cpu = sched_pickcpu(k, td);
  const pc = k.pcpus[cpu];
  td.td_state = "TDS_RUNQ";
  td.td_inhibitors = 0;
  pc.pc_runq.push(td);
  const cur = pc.pc_curthread;
  if (TD_IS_IDLETHREAD(cur)) {
    cur.td_flags |= TDF_NEEDRESCHED;
    // Wake a halted CPU (tdq_notify sends IPI_PREEMPT; the model's AST IPI serves).
    if (k.machine.cpus[cpu].halted) k.machine.send_ipi(k.machine.cpus[cpu], IPI_AST);
  }
}

/** Arm the CPU's hardclock timer if it is not armed (cpu_activeclock). */
export function cpu_activeclock(k: kernel, pc: pcpu): void {
  const cpu = pc.pc_cpu;
  if (cpu.timer_deadline === null) cpu.timer_deadline = cpu.tsc + k.tick_cycles;
}

/**
 * sched_switch: put td back on the run queue if it is still runnable, choose the next
 * thread of this CPU and switch to it. Resolves when td runs again (possibly on
 * another CPU). A thread that is exiting (TDS_INACTIVE) is thrown away instead.
 */
export async function sched_switch(td: thread): Promise<void> {
  const pc = curpcpu();
  const k = pc.pc_kernel;
  if (pc.pc_curthread !== td) panic(`sched_switch: ${td.td_name} is not curthread`);
  td.td_flags &= ~TDF_NEEDRESCHED;
  td.td_owepreempt = false;
  td.td_lastcpu = pc.pc_cpuid;
  const idle = TD_IS_IDLETHREAD(td);
  if (td.td_state === "TDS_RUNNING" && !idle) {
    td.td_state = "TDS_RUNQ";
    pc.pc_runq.push(td);
  }
  const newtd = pc.pc_runq.shift() ?? pc.pc_idlethread;
  pc.pc_slice = k.sched_slice;
  if (newtd === td) {
    td.td_state = "TDS_RUNNING";
    return;
  }
  if (idle) td.td_state = "TDS_CAN_RUN";
  td.td_oncpu = NOCPU;
  newtd.td_state = "TDS_RUNNING";
  newtd.td_oncpu = pc.pc_cpuid;
  pc.pc_curthread = newtd;
  pmap_activate_cr3(pc.pc_cpu, newtd);
  if (!TD_IS_IDLETHREAD(newtd)) cpu_activeclock(k, pc);
  if (td.td_state === "TDS_INACTIVE") {
    k.machine.cpu_throw(newtd.td_context!);
    return;
  }
  await k.machine.cpu_switch(newtd.td_context!);
}

/** tdq_idled: an idle CPU takes an unpinned runnable thread from the most loaded
 *  queue (lowest CPU id on ties). True if it found one. */
export function sched_idle_steal(pc: pcpu): boolean {
  const k = pc.pc_kernel;
  let victim: pcpu | null = null;
  for (const other of k.pcpus) {
    if (other === pc || !other.pc_started) continue;
    if (!other.pc_runq.some((td) => td.td_pinned === 0)) continue;
    if (victim === null || other.pc_runq.length > victim.pc_runq.length) victim = other;
  }
  if (victim === null) return false;
  const i = victim.pc_runq.findIndex((td) => td.td_pinned === 0);
  const [td] = victim.pc_runq.splice(i, 1);
  pc.pc_runq.push(td);
  return true;
}

/** sched_clock: a hardclock tick charged to the running thread. */
export function sched_clock(pc: pcpu): void {
  const td = pc.pc_curthread;
  if (pc.pc_runq.length === 0) return;
  if (TD_IS_IDLETHREAD(td) || --pc.pc_slice <= 0) {
    if (td.td_critnest > 0) td.td_owepreempt = true;
    else td.td_flags |= TDF_NEEDRESCHED;
  }
}

/** sched_pin: keep the current thread on this CPU (it may still sleep and be preempted). */
export function sched_pin(): void {
  const td = curthread();
  td.td_pinned++;
  td.td_lastcpu = curpcpu().pc_cpuid;
}

export function sched_unpin(): void {
  const td = curthread();
  if (td.td_pinned <= 0) panic(`sched_unpin: thread ${td.td_name} not pinned`);
  td.td_pinned--;
}

/** sched_bind-like initial placement for a new thread. */
export function sched_fork_thread(td: thread, cpu: number): void {
  td.td_lastcpu = cpu;
}
