// include/linux/preempt.h.

import { linux_api } from "./export.js";

export const preempt_disable = (): void => linux_api().preempt_disable();
export const preempt_enable = (): void => linux_api().preempt_enable();
