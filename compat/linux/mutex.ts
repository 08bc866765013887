// include/linux/mutex.h: sleeping locks with an owner.

import { linux_api } from "./export.js";
import { mutex } from "./lock_types.js";

export { mutex };

export const mutex_init = (lock: mutex, name = "mutex"): void => linux_api().mutex_init(lock, name);
export const mutex_lock = (lock: mutex): Promise<void> => linux_api().mutex_lock(lock);
export const mutex_lock_interruptible = (lock: mutex): Promise<number> => linux_api().mutex_lock_interruptible(lock);
export const mutex_unlock = (lock: mutex): void => linux_api().mutex_unlock(lock);
export const mutex_destroy = (lock: mutex): void => linux_api().mutex_destroy(lock);

export function DEFINE_MUTEX(name: string): mutex {
  const m = new mutex();
  mutex_init(m, name);
  return m;
}
