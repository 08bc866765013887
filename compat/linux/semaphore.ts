// include/linux/semaphore.h: counting semaphores.

import { linux_api } from "./export.js";
import { semaphore } from "./lock_types.js";

export { semaphore };

export const sema_init = (sem: semaphore, val: number, name = "semaphore"): void => linux_api().sema_init(sem, val, name);
export const down = (sem: semaphore): Promise<void> => linux_api().down(sem);
export const up = (sem: semaphore): void => linux_api().up(sem);
