// kernel/panic.c, include/asm-generic/bug.h: panic(), BUG() and WARN().
//
// In this model every BUG() (including the "BUG: ..." reports Linux prints and then
// carries on from, such as a sleeping function called in atomic context) stops the
// machine: the report goes to the log buffer and a KernelPanic is thrown, which the
// engine turns into MachineStopped. WARN() only logs, unless panic_on_warn is set.

import { current_cpu, on_cpu } from "../../machine/engine.js";
import type { linux_kernel } from "../init/main.js";
import { KERN_EMERG, KERN_WARNING, printk } from "./printk/printk.js";

/** A panic of the Linux kernel: the message starts with "Kernel panic - not syncing: "
 *  or "BUG: "; `thread` is the comm/pid of the task that was running. */
export class KernelPanic extends Error {
  constructor(
    message: string,
    readonly thread: string,
  ) {
    super(message);
    this.name = "KernelPanic";
  }
}

/** comm/pid of the task on this CPU, as oops reports name it. */
export function current_thread_name(k: linux_kernel): string {
  if (!on_cpu()) return "swapper/0";
  const cpu = current_cpu();
  if (cpu.machine !== k.machine) return "swapper/0";
  const t = k.percpu[cpu.id]?.current_task;
  return t ? `${t.comm}/${t.pid}` : `swapper/${cpu.id}`;
}

export function panic(k: linux_kernel, msg: string): never {
  const text = `Kernel panic - not syncing: ${msg}`;
  printk(k, KERN_EMERG, text);
  printk(k, KERN_EMERG, `---[ end Kernel panic - not syncing: ${msg} ]---`);
  k.panicked = true;
  throw (k.panic_error = new KernelPanic(text, current_thread_name(k)));
}

/** A "BUG: ..." report (what, then the details lines) that stops the machine. */
export function BUG(k: linux_kernel, what: string, ...details: string[]): never {
  const text = `BUG: ${what}`;
  printk(k, KERN_EMERG, text);
  for (const d of details) printk(k, KERN_EMERG, d);
  k.panicked = true;
  throw (k.panic_error = new KernelPanic([text, ...details].join("\n"), current_thread_name(k)));
}

/** WARN(): "WARNING: CPU: n PID: p at <where>" and the condition; panics with panic_on_warn. */
export function WARN(k: linux_kernel, where: string, msg: string): void {
  const cpu = on_cpu() && current_cpu().machine === k.machine ? current_cpu().id : 0;
  const name = current_thread_name(k);
  const pid = name.slice(name.lastIndexOf("/") + 1);
  printk(k, KERN_WARNING, "------------[ cut here ]------------");
  printk(k, KERN_WARNING, msg);
  printk(k, KERN_WARNING, `WARNING: CPU: ${cpu} PID: ${pid} at ${where}`);
  printk(k, KERN_WARNING, "---[ end trace 0000000000000000 ]---");
  k.warnings++;
  if (k.panic_on_warn) panic(k, `panic_on_warn set ... (${msg})`);
}
