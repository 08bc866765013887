// Test helpers: boot a FreeBSD kernel on a fresh machine and run `main` in thread0.

import { Machine } from "../../machine/engine.js";
import { freebsd_boot, type freebsd_kernel } from "../../host-freebsd/kern/init_main.js";
import type { kernel_options } from "../../host-freebsd/sys/kernel.js";

export interface booted {
  machine: Machine;
  kern: freebsd_kernel;
}

export function boot(opts: { ncpus?: number; ram_mb?: number; seed?: number; kopts?: kernel_options } = {}): booted {
  const machine = new Machine({ ncpus: opts.ncpus ?? 2, ram_bytes: (opts.ram_mb ?? 16) << 20, seed: opts.seed ?? 1 });
  const kern = freebsd_boot(machine, opts.kopts ?? {});
  return { machine, kern };
}

/** Boot, run main in thread0, run the machine to completion; returns main's result. */
export async function run_main<T>(main: (b: booted) => Promise<T>, opts: Parameters<typeof boot>[0] = {}): Promise<{ result: T; b: booted }> {
  const b = boot(opts);
  let result: T | undefined;
  let done = false;
  b.kern.start(async () => {
    result = await main(b);
    done = true;
  });
  await b.machine.run();
  if (!done) throw new Error("main did not finish (deadlock: the machine ran out of work)");
  return { result: result as T, b };
}
