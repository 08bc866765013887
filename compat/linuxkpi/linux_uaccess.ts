// sys/compat/linuxkpi/common/src/linux_compat.c: linux_copyin / linux_copyout, which
// back copy_from_user / copy_to_user.
//
// By the time a FreeBSD ioctl reaches the shim, sys_ioctl has already copied the
// argument into a kernel buffer (and will copy it out after). The driver is given a
// user address standing for that buffer (linux_file_ioctl), and copies that hit
// [address, address + size) are redirected to the kernel copy:
//  - fake_address preset (LinuxKPI): the address is LINUX_IOCTL_MIN_PTR, an unmapped
//    window; an access that falls in the window but outside the argument is EFAULT;
//  - registered_area preset (2007 port): the address is the caller's real pointer;
//    the parts of an access outside the argument go to user memory.
// Any other address is an ordinary user address: copyin/copyout.
// Both return the number of bytes NOT copied, as Linux's do.

import type { Uva } from "../../machine/addr.js";
import { copyin, copyout } from "../../host-freebsd/amd64/support.js";
import { IOCPARM_MAX } from "../../host-freebsd/sys/ioccom.js";
import { linux_get_current } from "./linux_current.js";

/** Start of the fake user addresses of ioctl arguments (an unmapped low range; user
 *  mappings start at VM_MMAP_BASE, far above). */
export const LINUX_IOCTL_MIN_PTR = 0x10000;
export const LINUX_IOCTL_MAX_PTR = LINUX_IOCTL_MIN_PTR + IOCPARM_MAX;

/** A piece of a user copy: `n` bytes at offset `off` of the caller's buffer, either
 *  inside the ioctl argument (at `koff` of the kernel copy) or at user address `uaddr`. */
type piece = { off: number; n: number } & ({ koff: number; uaddr?: undefined } | { uaddr: number; koff?: undefined });

/**
 * linux_remap_address: how a copy of n bytes at uaddr splits between the kernel copy
 * of the ioctl argument and user memory; null when part of it is in the fake window
 * but outside the argument.
 * DIVERGENCE: a Linux driver may reach beyond the declared argument size (KVM's
 * GET_MSR_INDEX_LIST writes the index array after its 4-byte header, GET_MSRS/SET_MSRS
 * read and write the entries after their 8-byte header); with the fake_address preset
 * (LinuxKPI) any such access fails with EFAULT. The registered_area preset lets it
 * reach the caller's memory instead.
 */
function linux_remap_address(uaddr: number, n: number): { pieces: piece[]; buf: Uint8Array | null } | null {
  const task = linux_get_current();
  const buf = task.bsd_ioctl_data;
  if (buf === null) return { pieces: [{ off: 0, n, uaddr }], buf: null };
  const base = task.bsd_ioctl_uaddr;
  const len = task.bsd_ioctl_len;
  if (base === LINUX_IOCTL_MIN_PTR) {
    if (uaddr + n <= LINUX_IOCTL_MIN_PTR || uaddr >= LINUX_IOCTL_MAX_PTR) return { pieces: [{ off: 0, n, uaddr }], buf: null };
    if (uaddr < base || uaddr + n > base + len) return null;
    return { pieces: [{ off: 0, n, koff: uaddr - base }], buf };
  }
  const pieces: piece[] = [];
  const lo = Math.max(uaddr, base);
  const hi = Math.min(uaddr + n, base + len);
  if (hi <= lo) return { pieces: [{ off: 0, n, uaddr }], buf: null };
  if (uaddr < lo) pieces.push({ off: 0, n: lo - uaddr, uaddr });
  pieces.push({ off: lo - uaddr, n: hi - lo, koff: lo - base });
  if (uaddr + n > hi) pieces.push({ off: hi - uaddr, n: uaddr + n - hi, uaddr: hi });
  return { pieces, buf };
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
  if (r === null) return n;
  for (const p of r.pieces) {
    const src = from.subarray(p.off, p.off + p.n);
    if (p.koff !== undefined) r.buf!.set(src, p.koff);
    else if (copyout(src, p.uaddr, p.n) !== 0) return n;
  }
  return 0;
}

/** linux_copyin (copy_from_user). On failure the destination is zeroed, as Linux's
 *  copy_from_user zero-fills what it could not copy. */
export async function linux_copyin(to: Uint8Array, from: Uva, n: number): Promise<number> {
  if (n === 0) return 0;
  if (n > to.length) n = to.length;
  const r = linux_remap_address(from, n);
  const fail = () => {
    to.fill(0, 0, n);
    return n;
  };
  if (r === null) return fail();
  for (const p of r.pieces) {
    const dst = to.subarray(p.off, p.off + p.n);
    if (p.koff !== undefined) dst.set(r.buf!.subarray(p.koff, p.koff + p.n));
    else if (copyin(p.uaddr, dst, p.n) !== 0) return fail();
  }
  return 0;
}
