// Errno translation between the Linux code above the shim and FreeBSD below it. Linux
// returns -errno with Linux numbers; FreeBSD's d_ioctl/fo_* return positive FreeBSD
// numbers. Numbers agree below 35 except EAGAIN (11 -> 35) and EDEADLK (35 -> 11).
// ERESTARTSYS and ENOIOCTLCMD are Linux-internal: they become ERESTART (restart the
// system call) and ENOTTY (no such ioctl), as LinuxKPI's linux_file_ioctl does.

import * as L from "../linux/errno.js";
import * as F from "../../host-freebsd/sys/errno.js";

const linux_to_bsd = new Map<number, number>([
  [L.EPERM, F.EPERM], [L.ENOENT, F.ENOENT], [L.ESRCH, F.ESRCH], [L.EINTR, F.EINTR], [L.EIO, F.EIO],
  [L.ENXIO, F.ENXIO], [L.E2BIG, F.E2BIG], [L.ENOEXEC, F.ENOEXEC], [L.EBADF, F.EBADF], [L.ECHILD, F.ECHILD],
  [L.EAGAIN, F.EAGAIN], [L.ENOMEM, F.ENOMEM], [L.EACCES, F.EACCES], [L.EFAULT, F.EFAULT], [L.EBUSY, F.EBUSY],
  [L.EEXIST, F.EEXIST], [L.EXDEV, F.EXDEV], [L.ENODEV, F.ENODEV], [L.ENOTDIR, F.ENOTDIR], [L.EISDIR, F.EISDIR],
  [L.EINVAL, F.EINVAL], [L.ENFILE, F.ENFILE], [L.EMFILE, F.EMFILE], [L.ENOTTY, F.ENOTTY], [L.EFBIG, F.EFBIG],
  [L.ENOSPC, F.ENOSPC], [L.ESPIPE, F.ESPIPE], [L.EROFS, F.EROFS], [L.EPIPE, F.EPIPE], [L.EDOM, F.EDOM],
  [L.ERANGE, F.ERANGE], [L.EDEADLK, F.EDEADLK], [L.ENAMETOOLONG, F.ENAMETOOLONG], [L.ENOLCK, F.ENOLCK],
  [L.ENOSYS, F.ENOSYS], [L.ENOTEMPTY, F.ENOTEMPTY], [L.ELOOP, F.ELOOP],
  // DIVERGENCE: FreeBSD has no ENODATA; LinuxKPI's errno.h spells it ENOATTR.
  [L.ENODATA, F.ENOATTR],
  [L.EOVERFLOW, F.EOVERFLOW], [L.EOPNOTSUPP, F.EOPNOTSUPP], [L.ETIMEDOUT, F.ETIMEDOUT],
  // DIVERGENCE: no FreeBSD equivalent of EHWPOISON; the caller sees EIO.
  [L.EHWPOISON, F.EIO],
  [L.ERESTARTSYS, F.ERESTART],
  [L.ENOIOCTLCMD, F.ENOTTY],
]);

const bsd_to_linux = new Map<number, number>();
for (const [l, b] of linux_to_bsd) if (!bsd_to_linux.has(b) && l !== L.EHWPOISON) bsd_to_linux.set(b, l);

/** A positive Linux errno as FreeBSD's number. Unknown numbers are EINVAL (and
 *  reported), since passing a foreign number through would mean something else. */
export function linux_to_bsd_errno(linux_errno: number): number {
  const b = linux_to_bsd.get(linux_errno);
  if (b === undefined) return F.EINVAL;
  return b;
}

/** A positive FreeBSD errno as Linux's number (for results of FreeBSD KPIs returned to
 *  Linux code, e.g. sx_xlock_sig's EINTR). */
export function bsd_to_linux_errno(bsd_errno: number): number {
  return bsd_to_linux.get(bsd_errno) ?? L.EINVAL;
}

/** The whole table, for tests and docs. */
export const LINUX_TO_BSD_ERRNO: ReadonlyMap<number, number> = linux_to_bsd;
