// sys/kern/subr_prf.c: kernel printf, to the message buffer and the console.

import { curkernel } from "../sys/pcpu.js";
import type { kernel } from "../sys/kernel.js";

/** printf(9) with an explicit kernel, for code that runs before any CPU context. */
export function kprintf(k: kernel, s: string): void {
  k.msgbufp.msgbuf_addstr(s);
  k.console?.write(new TextEncoder().encode(s));
}

/** printf(9): the string is already formatted (the model has no varargs). */
export function printf(s: string): void {
  kprintf(curkernel(), s);
}
