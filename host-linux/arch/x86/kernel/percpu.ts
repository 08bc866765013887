// arch/x86/include/asm/current.h, percpu.h: the per-CPU area %gs points at (struct
// pcpu_hot and the per-CPU variables this kernel keeps). Installed in Cpu.gsbase at
// boot; `current` is this CPU's current_task.

import { current_cpu, type Cpu } from "../../../../machine/engine.js";
import { MachineCheck } from "../../../../machine/phys_mem.js";
import type { linux_kernel } from "../../../init/main.js";
import type { task_struct } from "../../../include/linux/sched.js";
import type { rq } from "../../../kernel/sched/core.js";
import type { call_single_data } from "../../../kernel/smp.js";
import type { hrtimer } from "../../../kernel/time/hrtimer.js";

export class percpu {
  current_task!: task_struct;
  rq!: rq;
  /** smp_call_function requests queued for this CPU (call_single_queue). */
  readonly call_single_queue: call_single_data[] = [];
  /** tick_sched.tick_stopped: the idle loop stopped the periodic tick (NO_HZ_IDLE). */
  tick_stopped = true;
  /** TSC of the next periodic tick while the tick runs. */
  tick_next = 0;
  /** This CPU's hrtimer base, by expiry (kernel/time/hrtimer). */
  readonly hrtimers: hrtimer[] = [];

  constructor(
    readonly kernel: linux_kernel,
    readonly cpu_number: number,
    readonly cpu: Cpu,
  ) {}
}

/** This CPU's per-CPU area; a CPU of another machine (or none) is a bug. */
export function this_cpu(k: linux_kernel): percpu {
  const cpu = current_cpu();
  const pc = cpu.gsbase;
  if (!(pc instanceof percpu) || pc.kernel !== k)
    throw new MachineCheck(`cpu${cpu.id}: %gs does not point at this Linux kernel's per-CPU area`);
  return pc;
}

/** `current`. */
export function get_current(k: linux_kernel): task_struct {
  return this_cpu(k).current_task;
}
