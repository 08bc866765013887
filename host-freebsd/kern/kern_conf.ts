// sys/kern/kern_conf.c: creating and destroying character devices in devfs.
// destroy_dev waits until no thread is inside the driver's methods; files opened
// before get ENXIO afterwards.

import { curkernel } from "../sys/pcpu.js";
import { EEXIST, EINVAL } from "../sys/errno.js";
import type { kernel } from "../sys/kernel.js";
import { cdev, D_VERSION, SI_DYING, type cdevsw } from "../sys/conf.js";
import { panic } from "./kern_shutdown.js";
import { tsleep, wakeup } from "./kern_synch.js";
import { witness_warn_sleep } from "./subr_witness.js";

export class devfs_state {
  /** Names under /dev. */
  readonly devices = new Map<string, cdev>();
}

export function devfs_init(k: kernel): void {
  k.devfs = new devfs_state();
}

export interface make_dev_args {
  mda_devsw: cdevsw;
  mda_unit?: number;
  mda_mode?: number;
  mda_si_drv1?: unknown;
}

/** make_dev_s(9): 0 and the new device, or EEXIST for a duplicate name. May sleep. */
export function make_dev_s(args: make_dev_args, name: string): { error: number; dev: cdev | null } {
  witness_warn_sleep("make_dev_s");
  const k = curkernel();
  if (args.mda_devsw.d_version !== D_VERSION) return { error: EINVAL, dev: null };
  if (k.devfs.devices.has(name)) return { error: EEXIST, dev: null };
  const dev = new cdev(name, args.mda_devsw, args.mda_mode ?? 0o600, args.mda_unit ?? 0);
  dev.si_drv1 = args.mda_si_drv1 ?? null;
  k.devfs.devices.set(name, dev);
  return { error: 0, dev };
}

/** make_dev(9): as make_dev_s, but a duplicate name panics. */
export function make_dev(devsw: cdevsw, unit: number, _uid: number, _gid: number, perms: number, name: string): cdev {
  const r = make_dev_s({ mda_devsw: devsw, mda_unit: unit, mda_mode: perms }, name);
  if (r.error !== 0) panic(`make_dev_credv: bad si_name (error=${r.error}, si_name=${name})`);
  return r.dev!;
}

/** destroy_dev(9): remove the name, then wait for threads inside the driver to leave. */
export async function destroy_dev(dev: cdev): Promise<void> {
  witness_warn_sleep("destroy_dev");
  const k = curkernel();
  if (k.devfs.devices.get(dev.si_name) === dev) k.devfs.devices.delete(dev.si_name);
  dev.si_flags |= SI_DYING;
  while (dev.si_threadcount > 0) await tsleep(dev, 0, "devdrn", 1);
}

/** dev_refthread: enter the driver, unless the device is being destroyed. */
export function dev_refthread(dev: cdev): boolean {
  if (dev.si_flags & SI_DYING) return false;
  dev.si_threadcount++;
  return true;
}

export function dev_relthread(dev: cdev): void {
  dev.si_threadcount--;
  if (dev.si_threadcount === 0 && dev.si_flags & SI_DYING) wakeup(dev);
}

export function devfs_lookup(k: kernel, name: string): cdev | null {
  return k.devfs.devices.get(name) ?? null;
}
