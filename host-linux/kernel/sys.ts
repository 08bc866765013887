// kernel/sys.c, kernel/signal.c, kernel/sched/core.c: getpid(2), pause(2), sched_yield(2).

import type { linux_kernel } from "../init/main.js";
import { ERESTARTNOHAND } from "../include/linux/errno.js";
import { TASK_INTERRUPTIBLE, TASK_RUNNING, TIF_NEED_RESCHED } from "../include/linux/sched.js";
import { get_current } from "../arch/x86/kernel/percpu.js";
import { schedule, set_current_state } from "./sched/core.js";
import { signal_pending } from "./signal.js";

export async function sys_getpid(k: linux_kernel): Promise<number> {
  return get_current(k).pid;
}

/** pause: sleep until a signal arrives. */
export async function sys_pause(k: linux_kernel): Promise<number> {
  const me = get_current(k);
  while (!signal_pending(me)) {
    set_current_state(k, TASK_INTERRUPTIBLE);
    await schedule(k);
  }
  set_current_state(k, TASK_RUNNING);
  return -ERESTARTNOHAND;
}

export async function sys_sched_yield(k: linux_kernel): Promise<number> {
  get_current(k).thread_info.flags |= TIF_NEED_RESCHED;
  return 0;
}
