// sys/x86/x86/delay.c: DELAY(n), a busy-wait of n microseconds on the TSC (delay_tsc).
// The thread keeps its CPU: simulated time passes on it while the other CPUs run, and
// no other thread is switched in, so DELAY is legal in a critical section or with a
// spin mutex held. Interrupts are taken during the wait if they are enabled.

import { curkernel } from "../sys/pcpu.js";

/** tsc_freq (sys/x86/x86/tsc.c): every CPU of the model runs its TSC at 1 GHz. */
export const tsc_freq = 1_000_000_000;

export async function DELAY(n: number): Promise<void> {
  const cycles = Math.ceil((n * tsc_freq) / 1_000_000);
  if (cycles > 0) await curkernel().machine.cpu_yield(cycles);
}
