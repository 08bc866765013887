// Test helpers: boot a machine with the Linux kernel and run a kernel-thread body.

import { Machine } from "../../machine/engine.js";
import { linux_boot, type linux_boot_options, type linux_kernel } from "../../host-linux/init/main.js";
import { wait_event, wait_queue_head, wake_up } from "../../host-linux/kernel/sched/wait.js";

export interface booted {
  machine: Machine;
  k: linux_kernel;
}

export function boot(opts: { ncpus?: number; ram_mb?: number; seed?: number } & linux_boot_options = {}): booted {
  const machine = new Machine({ ncpus: opts.ncpus ?? 1, ram_bytes: (opts.ram_mb ?? 16) << 20, seed: opts.seed ?? 1 });
  const k = linux_boot(machine, opts);
  return { machine, k };
}

/** Boot, run `main` in kernel_init, run the machine to completion; main's result. */
export async function run_kernel<T>(main: (k: linux_kernel, m: Machine) => Promise<T>, opts: Parameters<typeof boot>[0] = {}): Promise<{ result: T; k: linux_kernel; machine: Machine }> {
  const { machine, k } = boot(opts);
  let result: { v: T } | null = null;
  k.start(async () => {
    result = { v: await main(k, machine) };
  });
  await machine.run();
  if (result === null) throw new Error(`kernel main did not finish\n${k.dmesg()}`);
  return { result: (result as { v: T }).v, k, machine };
}

/** Run each body in its own kernel thread; resolves when all have returned. */
export function spawn_all(k: linux_kernel, bodies: [string, () => Promise<void>][]): Promise<void> {
  const wq = new wait_queue_head();
  let left = bodies.length;
  for (const [name, body] of bodies)
    k.kthread_run(async () => {
      await body();
      left--;
      wake_up(k, wq);
      return 0;
    }, name);
  return wait_event(k, wq, () => left === 0);
}
