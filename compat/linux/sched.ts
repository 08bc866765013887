// include/linux/sched.h, include/linux/sched/signal.h, include/linux/kernel.h (might_sleep).

import { linux_api } from "./export.js";
import type { task_struct } from "./sched_types.js";

export type { task_struct };

/** `current`: the task running on this CPU. */
export const get_current = (): task_struct => linux_api().get_current();
export const signal_pending = (t: task_struct): boolean => linux_api().signal_pending(t);
export const cond_resched = (): Promise<void> => linux_api().cond_resched();
export const need_resched = (): boolean => linux_api().need_resched();
/** After local_irq_enable() let the host take an interrupt: where the kernel may preempt
 *  the task (Linux: unless preemption is disabled, as under get_cpu()). */
export const irqentry_exit_cond_resched = (): Promise<void> => linux_api().irqentry_exit_cond_resched();
export const might_sleep = (where = "might_sleep"): void => linux_api().might_sleep(where);
