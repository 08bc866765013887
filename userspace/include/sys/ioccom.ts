// FreeBSD's sys/ioccom.h as installed for userspace: the ioctl command encoding a
// program compiled on FreeBSD gets from _IO/_IOR/_IOW/_IOWR.
//   bits 0-7 number, 8-15 group, 16-28 parameter length (13 bits), 29 IOC_VOID,
//   30 IOC_OUT (the kernel copies out), 31 IOC_IN (the kernel copies in).
// The direction bits are the reverse of Linux's, and _IO is IOC_VOID rather than 0.

import { _IOC_READ, _IOC_WRITE, type IoctlDef } from "../../../include/uapi/asm-generic/ioctl.js";

export const IOCPARM_SHIFT = 13;
export const IOCPARM_MASK = (1 << IOCPARM_SHIFT) - 1;
export const IOCPARM_MAX = 1 << IOCPARM_SHIFT;
export const IOC_VOID = 0x20000000;
export const IOC_OUT = 0x40000000;
export const IOC_IN = 0x80000000;
export const IOC_INOUT = IOC_IN | IOC_OUT;

export function _IOC(inout: number, group: number, num: number, len: number): number {
  return (inout | ((len & IOCPARM_MASK) << 16) | (group << 8) | num) >>> 0;
}

/** A uapi ioctl definition compiled with FreeBSD's macros. */
export function freebsd_ioctl(d: IoctlDef): number {
  if (d.size > IOCPARM_MASK) throw new RangeError(`${d.name}: parameter of ${d.size} bytes exceeds IOCPARM_MASK`);
  let inout = 0;
  if (d.dir & _IOC_WRITE) inout |= IOC_IN;
  if (d.dir & _IOC_READ) inout |= IOC_OUT;
  if (inout === 0) inout = IOC_VOID;
  return _IOC(inout, d.type, d.nr, d.size);
}
