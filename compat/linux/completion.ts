// include/linux/completion.h: one-shot or counted "this happened" events between
// threads. A completion is not a lock: any thread may complete() it, and the waiter
// sleeps (so never in atomic context).

import { linux_api } from "./export.js";
import { completion } from "./completion_types.js";

export { completion };

export const init_completion = (x: completion): void => linux_api().init_completion(x);
export const reinit_completion = (x: completion): void => linux_api().reinit_completion(x);
export const complete = (x: completion): void => linux_api().complete(x);
export const complete_all = (x: completion): void => linux_api().complete_all(x);
export const wait_for_completion = (x: completion): Promise<void> => linux_api().wait_for_completion(x);
export const wait_for_completion_interruptible = (x: completion): Promise<number> => linux_api().wait_for_completion_interruptible(x);
export const wait_for_completion_timeout = (x: completion, timeout: number): Promise<number> => linux_api().wait_for_completion_timeout(x, timeout);
export const try_wait_for_completion = (x: completion): boolean => linux_api().try_wait_for_completion(x);
export const completion_done = (x: completion): boolean => linux_api().completion_done(x);

/** DECLARE_COMPLETION for a structure field: initialised for the running kernel. */
export function DECLARE_COMPLETION(): completion {
  const x = new completion();
  init_completion(x);
  return x;
}
