// sys/compat/linuxkpi/common/src/linux_compat.c: linux_copyin / linux_copyout, which
// back copy_from_user / copy_to_user.
//
// By the time a FreeBSD ioctl reaches the shim, sys_ioctl has already copied the
// argument into a kernel buffer (and will copy it out after). The Linux driver is
// handed a fake user address, LINUX_IOCTL_MIN_PTR, standing for that buffer;
// copy_{from,to}_user on [LINUX_IOCTL_MIN_PTR, LINUX_IOCTL_MIN_PTR + len) memcpy to
// and from the kernel copy, bounds-checked against the argument's size. Any other
// address is a real user address and goes through copyin/copyout.
// Both return the number of bytes NOT copied, as Linux's do.

import type { Uva } from "../../machine/addr.js";
import { copyin, copyout } from "../../host-freebsd/amd64/support.js";
import { IOCPARM_MAX } from "../../host-freebsd/sys/ioccom.js";
import { linux_get_current } from "./linux_current.js";

/** Start of the fake user addresses of ioctl arguments (an unmapped low range; user
 *  mappings start at VM_MMAP_BASE, far above). */
export const LINUX_IOCTL_MIN_PTR = 0x10000;
export const LINUX_IOCTL_MAX_PTR = LINUX_IOCTL_MIN_PTR + IOCPARM_MAX;

/**
 * linux_remap_address: the kernel copy behind a fake ioctl address, or null for an
 * ordinary user address. `bad` is set when the address is in the ioctl window but the
 * range is not inside the argument.
 * DIVERGENCE: a Linux driver may reach beyond the declared argument size (KVM's
 * GET_MSR_INDEX_LIST writes the index array after its 4-byte header); here any access
 * past the argument sys_ioctl copied fails with EFAULT, as in LinuxKPI.
 */
function linux_remap_address(uaddr: number, len: number): { buf: Uint8Array | null; off: number; bad: boolean } {
  if (uaddr < LINUX_IOCTL_MIN_PTR || uaddr >= LINUX_IOCTL_MAX_PTR) return { buf: null, off: 0, bad: false };
  const task = linux_get_current();
  if (task.bsd_ioctl_data === null) return { buf: null, off: 0, bad: false };
  const off = uaddr - LINUX_IOCTL_MIN_PTR;
  if (off + len > task.bsd_ioctl_len) return { buf: null, off: 0, bad: true };
  return { buf: task.bsd_ioctl_data, off, bad: false };
}

/**
 * linux_copyout (copy_to_user).
 * DIVERGENCE: a fault copies all or nothing and reports n bytes not copied, where
 * Linux reports exactly how many bytes were left when the fault hit. There is no
 * might_fault() check: copying under a spinlock is only caught if it really faults.
 */
export async function linux_copyout(to: Uva, from: Uint8Array, n: number): Promise<number> {
  if (n === 0) return 0;
  if (n > from.length) n = from.length;
  const r = linux_remap_address(to, n);
  if (r.bad) return n;
  if (r.buf !== null) {
    r.buf.set(from.subarray(0, n), r.off);
    return 0;
  }
  return copyout(from, to, n) === 0 ? 0 : n;
}

/** linux_copyin (copy_from_user). On failure the destination is zeroed, as Linux's
 *  copy_from_user zero-fills what it could not copy. */
export async function linux_copyin(to: Uint8Array, from: Uva, n: number): Promise<number> {
  if (n === 0) return 0;
  if (n > to.length) n = to.length;
  const r = linux_remap_address(from, n);
  if (r.bad) {
    to.fill(0, 0, n);
    return n;
  }
  if (r.buf !== null) {
    to.set(r.buf.subarray(r.off, r.off + n));
    return 0;
  }
  if (copyin(from, to, n) === 0) return 0;
  to.fill(0, 0, n);
  return n;
}
