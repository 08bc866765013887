// sys/sys/ioccom.h: FreeBSD's ioctl command encoding.
//   bits 0-7 command number, 8-15 group, 16-28 parameter length (13 bits),
//   29 IOC_VOID (no parameters, or an int passed by value), 30 IOC_OUT (copy out
//   after the call), 31 IOC_IN (copy in before the call).
// Relative to Linux (asm-generic/ioctl.h) the in/out bits are swapped and the size
// field is one bit narrower; Linux's _IO sets no direction bit at all.

import type { IoctlDef } from "../../include/uapi/asm-generic/ioctl.js";

export const IOCPARM_SHIFT = 13;
export const IOCPARM_MASK = (1 << IOCPARM_SHIFT) - 1;
export const IOCPARM_LEN = (x: number) => (x >>> 16) & IOCPARM_MASK;
export const IOCBASECMD = (x: number) => (x & ~(IOCPARM_MASK << 16)) >>> 0;
export const IOCGROUP = (x: number) => (x >>> 8) & 0xff;
/** Largest parameter sys_ioctl copies (8192). */
export const IOCPARM_MAX = 1 << IOCPARM_SHIFT;

export const IOC_VOID = 0x20000000;
export const IOC_OUT = 0x40000000;
export const IOC_IN = 0x80000000;
export const IOC_INOUT = (IOC_IN | IOC_OUT) >>> 0;
export const IOC_DIRMASK = (IOC_VOID | IOC_OUT | IOC_IN) >>> 0;

export function _IOC(inout: number, group: number, num: number, len: number): number {
  if (len > IOCPARM_MASK) throw new RangeError(`_IOC length ${len} does not fit ${IOCPARM_SHIFT} bits`);
  return (inout | ((len & IOCPARM_MASK) << 16) | (group << 8) | num) >>> 0;
}
export const _IO = (g: number, n: number) => _IOC(IOC_VOID, g, n, 0);
export const _IOWINT = (g: number, n: number) => _IOC(IOC_VOID, g, n, 4);
export const _IOR = (g: number, n: number, len: number) => _IOC(IOC_OUT, g, n, len);
export const _IOW = (g: number, n: number, len: number) => _IOC(IOC_IN, g, n, len);
export const _IOWR = (g: number, n: number, len: number) => _IOC(IOC_INOUT, g, n, len);

/** The FreeBSD command for a uapi definition: what a header recompiled against
 *  sys/ioccom.h yields (_IO -> IOC_VOID, _IOW -> IOC_IN, _IOR -> IOC_OUT). */
export function freebsd_ioctl(d: IoctlDef): number {
  const IOC_WRITE = 1;
  const IOC_READ = 2;
  if (d.dir === 0) return _IO(d.type, d.nr);
  const inout = (d.dir & IOC_WRITE ? IOC_IN : 0) | (d.dir & IOC_READ ? IOC_OUT : 0);
  return _IOC(inout >>> 0, d.type, d.nr, d.size);
}
