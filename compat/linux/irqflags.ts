// include/linux/irqflags.h.

import { linux_api } from "./export.js";

export const local_irq_disable = (): void => linux_api().local_irq_disable();
export const local_irq_enable = (): void => linux_api().local_irq_enable();
