// include/linux/sched.h: the parts of struct task_struct modules read.

import type { mm_struct } from "./mm_struct.js";

export interface task_struct {
  readonly pid: number;
  readonly comm: string;
  /** Address space of the process this thread belongs to; null for kernel threads. */
  readonly mm: mm_struct | null;
}
