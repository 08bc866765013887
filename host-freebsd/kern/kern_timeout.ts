// sys/kern/kern_timeout.c, reduced: callouts that fire from hardclock when the CPU's
// clock passes c_time (in TSC cycles: the model's sbintime). Used for timed sleeps.

import type { kernel } from "../sys/kernel.js";

export interface callout {
  c_time: number;
  c_func: () => void;
}

export function callout_reset(k: kernel, c_time: number, func: () => void): callout {
  const c: callout = { c_time, c_func: func };
  let i = k.callouts.length;
  while (i > 0 && k.callouts[i - 1].c_time > c_time) i--;
  k.callouts.splice(i, 0, c);
  return c;
}

export function callout_stop(k: kernel, c: callout): boolean {
  const i = k.callouts.indexOf(c);
  if (i < 0) return false;
  k.callouts.splice(i, 1);
  return true;
}

/** softclock: run the callouts due at `now`. */
export function callout_process(k: kernel, now: number): void {
  while (k.callouts.length > 0 && k.callouts[0].c_time <= now) {
    const c = k.callouts.shift()!;
    c.c_func();
  }
}
