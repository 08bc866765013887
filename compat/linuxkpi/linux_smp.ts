// include/linux/smp.h on FreeBSD: CPU ids, get_cpu/put_cpu and cross-CPU calls.
//   get_cpu -> sched_pin + PCPU_GET(cpuid) (2007 port; default) or critical_enter
//              (LinuxKPI today), by the preset;
//   on_each_cpu / smp_call_function_single -> smp_rendezvous(_cpus).

import { curkernel, PCPU_GET_cpuid } from "../../host-freebsd/sys/pcpu.js";
import { sched_pin, sched_unpin } from "../../host-freebsd/kern/sched_ule.js";
import { critical_enter, critical_exit } from "../../host-freebsd/kern/kern_switch.js";
import { smp_rendezvous, smp_rendezvous_cpus } from "../../host-freebsd/kern/subr_smp.js";
import { ENXIO } from "../linux/errno.js";
import type { linuxkpi_state } from "./linuxkpi_state.js";

/**
 * get_cpu.
 * DIVERGENCE (sched_pin preset): Linux disables preemption; sched_pin only keeps the
 * thread on this CPU. It may still be preempted by another thread on the same CPU and
 * may sleep, which is what KVM needs between vcpu_load and vcpu_put (the VMCS stays
 * loaded on this CPU) but lets sleeping-in-atomic bugs through unnoticed.
 */
export function linux_get_cpu(s: linuxkpi_state): number {
  // DIVERGENCE (none preset, the 2007 snapshot before "Make get_cpu()/put_cpu() use
  // sched_pin()/sched_unpin()"): only the CPU id; the thread may be preempted and migrate
  // right after, so a VMCS loaded "here" may be used from another CPU.
  if (s.config.get_cpu === "none") return PCPU_GET_cpuid();
  if (s.config.get_cpu === "sched_pin") sched_pin();
  else critical_enter();
  return PCPU_GET_cpuid();
}

export function linux_put_cpu(s: linuxkpi_state): void {
  if (s.config.get_cpu === "none") return;
  if (s.config.get_cpu === "sched_pin") sched_unpin();
  else critical_exit();
}

export const linux_smp_processor_id = (): number => PCPU_GET_cpuid();
export const linux_num_online_cpus = (): number => curkernel().pcpus.filter((p) => p.pc_started).length;

/** on_each_cpu. DIVERGENCE: smp_rendezvous always waits for every CPU, so wait=false
 *  still returns only after func ran everywhere. */
export async function linux_on_each_cpu(func: (info: unknown) => void, info: unknown, _wait: boolean): Promise<void> {
  await smp_rendezvous(func, info);
}

export async function linux_smp_call_function_single(cpu: number, func: (info: unknown) => void, info: unknown, _wait: boolean): Promise<number> {
  const k = curkernel();
  if (!Number.isInteger(cpu) || cpu < 0 || cpu >= k.ncpu || !k.pcpus[cpu].pc_started) return -ENXIO;
  await smp_rendezvous_cpus([cpu], func, info);
  return 0;
}
