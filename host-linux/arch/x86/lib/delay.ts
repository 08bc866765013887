// arch/x86/lib/delay.c: busy-wait delays (delay_tsc). The CPU spins until the TSC has
// advanced by the requested time: simulated time passes on this CPU, the other CPUs run
// meanwhile, and nothing else runs on this one (no schedule(): legal with preemption
// off or a spinlock held, unlike msleep). Interrupts are taken during the wait if they
// are enabled, as on the real CPU.

import type { linux_kernel } from "../../../init/main.js";
import { TSC_KHZ } from "../kernel/tsc.js";
import { WARN } from "../../../kernel/panic.js";

/** include/asm-generic/delay.h: udelay() above this many microseconds is a build error
 *  (__bad_udelay); callers use mdelay. */
export const MAX_UDELAY_MS = 5;

/** __delay / delay_tsc: spin for `cycles` TSC cycles. */
export async function __delay(k: linux_kernel, cycles: number): Promise<void> {
  if (cycles > 0) await k.machine.cpu_yield(Math.ceil(cycles));
}

export async function ndelay(k: linux_kernel, nsecs: number): Promise<void> {
  await __delay(k, (nsecs * TSC_KHZ) / 1_000_000);
}

export async function udelay(k: linux_kernel, usecs: number): Promise<void> {
  if (usecs > MAX_UDELAY_MS * 1000) WARN(k, "include/asm-generic/delay.h udelay", `udelay(${usecs}) over ${MAX_UDELAY_MS} ms: use mdelay (__bad_udelay)`);
  await __delay(k, (usecs * TSC_KHZ) / 1000);
}

/** mdelay: udelay(1000) ms times. */
export async function mdelay(k: linux_kernel, msecs: number): Promise<void> {
  for (let i = 0; i < msecs; i++) await udelay(k, 1000);
}
