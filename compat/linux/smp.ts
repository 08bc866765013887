// include/linux/smp.h: get_cpu() disables preemption and returns the CPU id; the
// caller stays on that CPU until put_cpu(). KVM holds it from vcpu_load to vcpu_put
// because the VMCS is loaded on that CPU.

import { linux_api } from "./export.js";

export const get_cpu = (): number => linux_api().get_cpu();
export const put_cpu = (): void => linux_api().put_cpu();
export const smp_processor_id = (): number => linux_api().smp_processor_id();
export const num_online_cpus = (): number => linux_api().num_online_cpus();
export const on_each_cpu = (func: (info: unknown) => void, info: unknown, wait: boolean): Promise<void> =>
  linux_api().on_each_cpu(func, info, wait);
export const smp_call_function_single = (cpu: number, func: (info: unknown) => void, info: unknown, wait: boolean): Promise<number> =>
  linux_api().smp_call_function_single(cpu, func, info, wait);
