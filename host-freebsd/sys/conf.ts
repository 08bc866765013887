// sys/sys/conf.h: character devices (struct cdev) and their switch (struct cdevsw).

import type { Hpa } from "../../machine/addr.js";
import type { thread } from "./proc.js";
import type { file } from "./file.js";
import type { vm_object } from "../vm/vm_object.js";

export const D_VERSION = 0x17122009;
export const S_IFCHR = 0o020000;
// si_flags
export const SI_DYING = 0x0100;

export interface cdevsw {
  readonly d_version: number;
  readonly d_name: string;
  readonly d_flags?: number;
  d_open?(dev: cdev, oflags: number, devtype: number, td: thread): Promise<number>;
  /** Old-style open that may install its own fileops on fp (LinuxKPI uses it). */
  d_fdopen?(dev: cdev, oflags: number, td: thread, fp: file): Promise<number>;
  d_close?(dev: cdev, fflag: number, devtype: number, td: thread): Promise<number>;
  /** Fill buf; set td_retval[0] to the number of bytes read. */
  d_read?(dev: cdev, buf: Uint8Array, ioflag: number, td: thread): Promise<number>;
  /** Consume buf; set td_retval[0] to the number of bytes written. */
  d_write?(dev: cdev, buf: Uint8Array, ioflag: number, td: thread): Promise<number>;
  d_ioctl?(dev: cdev, cmd: number, data: Uint8Array, fflag: number, td: thread): Promise<number>;
  /** Physical address backing `offset` of the device (synchronous: fault time). */
  d_mmap?(dev: cdev, offset: number, nprot: number): { error: number; paddr: Hpa };
  d_mmap_single?(dev: cdev, offset: number, size: number, nprot: number): Promise<{ error: number; object: vm_object | null; offset: number }>;
}

export class cdev {
  si_flags = 0;
  si_drv1: unknown = null;
  si_drv2: unknown = null;
  /** Threads currently inside the driver (dev_refthread). */
  si_threadcount = 0;
  /** References from open files. */
  si_refcount = 0;
  constructor(
    readonly si_name: string,
    readonly si_devsw: cdevsw,
    readonly si_mode: number,
    readonly si_unit: number,
  ) {}
}
