// ioctl command translation. Userspace on FreeBSD is built against sys/ioccom.h, so the
// commands that reach the shim are FreeBSD-encoded (IOC_VOID/IOC_IN/IOC_OUT, 13-bit
// size); the Linux driver switches on Linux numbers (asm-generic/ioctl.h). The shim
// re-encodes: same group (type), number and size, direction bits translated
//   IOC_VOID -> _IOC_NONE (size 0: a Linux _IO carries no size)
//   IOC_IN   -> _IOC_WRITE (userspace writes, the kernel reads)
//   IOC_OUT  -> _IOC_READ
// A FreeBSD command whose size does not fit Linux's 14 bits cannot arise (13 bits).

import { _IOC, _IOC_NONE, _IOC_READ, _IOC_WRITE } from "../../include/uapi/asm-generic/ioctl.js";
import { IOCGROUP, IOCPARM_LEN, IOC_IN, IOC_OUT, IOC_VOID } from "../../host-freebsd/sys/ioccom.js";

/** The Linux command number for a FreeBSD-encoded command. */
export function linux_ioctl_cmd(bsd_cmd: number): number {
  const nr = bsd_cmd & 0xff;
  const type = IOCGROUP(bsd_cmd);
  if ((bsd_cmd & IOC_VOID) !== 0) return _IOC(_IOC_NONE, type, nr, 0);
  const dir = ((bsd_cmd & IOC_IN) !== 0 ? _IOC_WRITE : 0) | ((bsd_cmd & IOC_OUT) !== 0 ? _IOC_READ : 0);
  return _IOC(dir, type, nr, IOCPARM_LEN(bsd_cmd));
}
