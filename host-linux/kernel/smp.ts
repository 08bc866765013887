// kernel/smp.c: cross-CPU function calls (smp_call_function_single, on_each_cpu).
//
// A request is queued on the target's call_single_queue and the target is sent
// CALL_FUNCTION_SINGLE_VECTOR; the function runs there in interrupt context. On the
// calling CPU the function runs directly with interrupts disabled. Waiting for remote
// CPUs busy-waits (each spin lets simulated time pass with cpu_yield), so the caller may
// have preemption disabled but must have interrupts enabled.

import type { linux_kernel } from "../init/main.js";
import { ENXIO } from "../include/linux/errno.js";
import { this_cpu, type percpu } from "../arch/x86/kernel/percpu.js";
import { CALL_FUNCTION_SINGLE_VECTOR } from "../arch/x86/kernel/irq_vectors.js";
import { preempt_disable, preempt_enable } from "./sched/might_sleep.js";
import { WARN } from "./panic.js";

export interface call_single_data {
  readonly func: (info: unknown) => void;
  readonly info: unknown;
  done: boolean;
}

/** The IPI handler: run every queued request (interrupt context). */
export function generic_smp_call_function_single_interrupt(pc: percpu): void {
  while (pc.call_single_queue.length > 0) {
    const csd = pc.call_single_queue.shift()!;
    csd.func(csd.info);
    csd.done = true;
  }
}

function run_local(k: linux_kernel, func: (info: unknown) => void, info: unknown): void {
  const cpu = this_cpu(k).cpu;
  const was = cpu.intr_enabled;
  cpu.intr_enabled = false;
  try {
    func(info);
  } finally {
    if (was) k.machine.sti();
  }
}

async function csd_wait(k: linux_kernel, csds: call_single_data[]): Promise<void> {
  if (csds.length === 0) return;
  if (!this_cpu(k).cpu.intr_enabled)
    WARN(k, "kernel/smp.c smp_call_function_many_cond", "WARN_ON_ONCE(cpu_online(this_cpu) && irqs_disabled())");
  while (csds.some((c) => !c.done)) await k.machine.cpu_yield();
}

function queue_csd(k: linux_kernel, cpu: number, func: (info: unknown) => void, info: unknown): call_single_data {
  const csd: call_single_data = { func, info, done: false };
  k.percpu[cpu].call_single_queue.push(csd);
  k.machine.send_ipi(k.machine.cpus[cpu], CALL_FUNCTION_SINGLE_VECTOR);
  return csd;
}

export async function smp_call_function_single(k: linux_kernel, cpu: number, func: (info: unknown) => void, info: unknown, wait: boolean): Promise<number> {
  if (!Number.isInteger(cpu) || cpu < 0 || cpu >= k.percpu.length) return -ENXIO;
  preempt_disable(k);
  try {
    if (cpu === this_cpu(k).cpu_number) run_local(k, func, info);
    else {
      const csd = queue_csd(k, cpu, func, info);
      if (wait) await csd_wait(k, [csd]);
    }
  } finally {
    preempt_enable(k);
  }
  return 0;
}

export async function on_each_cpu(k: linux_kernel, func: (info: unknown) => void, info: unknown, wait: boolean): Promise<void> {
  preempt_disable(k);
  try {
    const me = this_cpu(k).cpu_number;
    const csds: call_single_data[] = [];
    for (const pc of k.percpu) if (pc.cpu_number !== me) csds.push(queue_csd(k, pc.cpu_number, func, info));
    run_local(k, func, info);
    if (wait) await csd_wait(k, csds);
  } finally {
    preempt_enable(k);
  }
}
