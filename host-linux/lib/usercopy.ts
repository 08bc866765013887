// lib/usercopy.c, arch/x86/include/asm/uaccess.h: copies between kernel buffers and
// the current process's memory, through its page tables with the CPU's user-access
// path (each page gets one chance at the page-fault handler). Both copies return the
// number of bytes NOT copied; an address range beyond user space copies nothing.

import { user_copy } from "../../machine/syscall.js";
import type { Uva } from "../../machine/addr.js";
import type { linux_kernel } from "../init/main.js";
import { EFAULT } from "../include/linux/errno.js";
import { TASK_SIZE_MAX } from "../arch/x86/include/asm/page.js";
import { might_sleep } from "../kernel/sched/might_sleep.js";

export const access_ok = (addr: number, size: number): boolean =>
  Number.isFinite(addr) && addr >= 0 && size <= TASK_SIZE_MAX && addr <= TASK_SIZE_MAX - size;

/** might_fault: a user access may fault, and a fault may sleep. */
const might_fault = (k: linux_kernel, where: string): void => might_sleep(k, where);

export async function copy_to_user(k: linux_kernel, to: Uva, from: Uint8Array, n: number): Promise<number> {
  might_fault(k, "copy_to_user");
  if (n <= 0) return 0;
  if (n > from.length) n = from.length;
  if (!access_ok(to, n)) return n;
  return user_copy(to, from.subarray(0, n), true, false);
}

export async function copy_from_user(k: linux_kernel, to: Uint8Array, from: Uva, n: number): Promise<number> {
  might_fault(k, "copy_from_user");
  if (n <= 0) return 0;
  if (n > to.length) n = to.length;
  if (!access_ok(from, n)) {
    to.fill(0, 0, n);
    return n;
  }
  const left = user_copy(from, to.subarray(0, n), false, false);
  // The uncopied tail of the destination is zeroed, as copy_from_user does.
  if (left > 0) to.fill(0, n - left, n);
  return left;
}

/** strncpy_from_user for a path: the string, -EFAULT, or -1 when no NUL within max. */
export function strncpy_from_user(k: linux_kernel, src: Uva, max: number): string | number {
  might_fault(k, "strncpy_from_user");
  const bytes: number[] = [];
  const one = new Uint8Array(1);
  for (let i = 0; i < max; i++) {
    if (!access_ok(src + i, 1) || user_copy(src + i, one, false, false) !== 0) return -EFAULT;
    if (one[0] === 0) return new TextDecoder().decode(new Uint8Array(bytes));
    bytes.push(one[0]);
  }
  return -1;
}

/** get_user of an int: its value, or -EFAULT. */
export function get_user_u32(k: linux_kernel, addr: number): number {
  might_fault(k, "get_user");
  const b = new Uint8Array(4);
  if (!access_ok(addr, 4) || user_copy(addr, b, false, false) !== 0) return -EFAULT;
  return new DataView(b.buffer).getUint32(0, true);
}

/** put_user of an int: 0, or -EFAULT. */
export function put_user_u32(k: linux_kernel, addr: number, val: number): number {
  might_fault(k, "put_user");
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, val >>> 0, true);
  if (!access_ok(addr, 4) || user_copy(addr, b, true, false) !== 0) return -EFAULT;
  return 0;
}

/** put_user of an unsigned long: 0, or -EFAULT. */
export function put_user_u64(k: linux_kernel, addr: number, val: bigint): number {
  might_fault(k, "put_user");
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, val), true);
  if (!access_ok(addr, 8) || user_copy(addr, b, true, false) !== 0) return -EFAULT;
  return 0;
}
