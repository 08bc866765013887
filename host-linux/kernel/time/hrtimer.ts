// kernel/time/hrtimer.c: one-shot timers per CPU, expiring in the local timer
// interrupt (hrtimer_interrupt), and the clock-event programming they share with the
// periodic tick: the local APIC timer (TSC-deadline mode, machine Cpu.timer_deadline)
// is armed for whichever comes first, the next tick (unless the idle loop stopped it)
// or the first timer. So an idle CPU with a timer pending halts until that timer.
//
// Time is the CPU's TSC (TSC_KHZ cycles per millisecond); CLOCK_MONOTONIC is the TSC
// since boot, and there is no RTC, so CLOCK_REALTIME reads the same.
//
// Locking: the per-CPU timer base is touched only by synchronous code on any CPU (the
// base lock is implicit); callbacks run in interrupt context and must not sleep.

import type { linux_kernel } from "../../init/main.js";
import type { percpu } from "../../arch/x86/kernel/percpu.js";
import { this_cpu } from "../../arch/x86/kernel/percpu.js";
import { TSC_KHZ } from "../../arch/x86/kernel/tsc.js";

export interface hrtimer {
  /** Expiry, in TSC cycles of the CPU it is queued on. */
  expires: number;
  /** The callback (interrupt context). */
  readonly function: () => void;
  /** CPU whose base holds it, or -1 when not queued. */
  base_cpu: number;
}

export function hrtimer_init(fn: () => void): hrtimer {
  return { expires: 0, function: fn, base_cpu: -1 };
}

/** ns of CLOCK_MONOTONIC as cycles of the TSC. */
export const ns_to_cycles = (ns: bigint): number => Number((ns * BigInt(TSC_KHZ)) / 1_000_000n);
/** ktime_get(): CLOCK_MONOTONIC now, in ns, on this CPU. */
export const ktime_get_ns = (k: linux_kernel): bigint => (BigInt(this_cpu(k).cpu.tsc) * 1_000_000n) / BigInt(TSC_KHZ);

/** clockevents_program_event: arm the local timer for the earliest event, if any. */
export function clockevents_program(pc: percpu): void {
  let next: number | null = pc.tick_stopped ? null : pc.tick_next;
  const first = pc.hrtimers[0];
  if (first !== undefined && (next === null || first.expires < next)) next = first.expires;
  pc.cpu.timer_deadline = next;
}

/** hrtimer_start on this CPU's base (HRTIMER_MODE_ABS): expires in TSC cycles. */
export function hrtimer_start(k: linux_kernel, t: hrtimer, expires: number): void {
  hrtimer_cancel(k, t);
  const pc = this_cpu(k);
  t.expires = expires;
  t.base_cpu = pc.cpu_number;
  let i = 0;
  while (i < pc.hrtimers.length && pc.hrtimers[i].expires <= expires) i++;
  pc.hrtimers.splice(i, 0, t);
  if (i === 0) clockevents_program(pc);
}

/** hrtimer_cancel: the timer will not run (it is not running: callbacks are
 *  synchronous). True if it was queued. */
export function hrtimer_cancel(k: linux_kernel, t: hrtimer): boolean {
  if (t.base_cpu < 0) return false;
  const pc = k.percpu[t.base_cpu];
  const i = pc.hrtimers.indexOf(t);
  if (i >= 0) pc.hrtimers.splice(i, 1);
  t.base_cpu = -1;
  if (i === 0) clockevents_program(pc);
  return true;
}

/** hrtimer_interrupt's expiry of due timers (from the local timer interrupt). */
export function hrtimer_run_queues(pc: percpu): void {
  const now = pc.cpu.tsc;
  while (pc.hrtimers.length > 0 && pc.hrtimers[0].expires <= now) {
    const t = pc.hrtimers.shift()!;
    t.base_cpu = -1;
    t.function();
  }
}

/** Timers queued on every CPU (for leak checks). */
export function hrtimers_pending(k: linux_kernel): number {
  return k.percpu.reduce((n, pc) => n + pc.hrtimers.length, 0);
}
