// sys/amd64/amd64/support.S: copyin/copyout/copyinstr. Kernel-mode accesses to the
// current process's user addresses through its page tables (machine/syscall.ts
// user_copy with the kernel's privilege), taking page faults into trap_pfault; an
// address outside user space or one that cannot be faulted in gives EFAULT.

import { user_copy } from "../../machine/syscall.js";
import { EFAULT, ENAMETOOLONG } from "../sys/errno.js";
import { VM_MAXUSER_ADDRESS } from "./vmparam.js";

function user_range_ok(uaddr: number, len: number): boolean {
  return Number.isSafeInteger(uaddr) && uaddr >= 0 && len >= 0 && uaddr + len <= VM_MAXUSER_ADDRESS;
}

/** copyin(9): len bytes from user address uaddr into kbuf. 0 or EFAULT. */
export function copyin(uaddr: number, kbuf: Uint8Array, len: number = kbuf.length): number {
  if (len === 0) return 0;
  if (!user_range_ok(uaddr, len)) return EFAULT;
  return user_copy(uaddr, kbuf.subarray(0, len), false, false) === 0 ? 0 : EFAULT;
}

/** copyout(9): len bytes of kbuf to user address uaddr. 0 or EFAULT. */
export function copyout(kbuf: Uint8Array, uaddr: number, len: number = kbuf.length): number {
  if (len === 0) return 0;
  if (!user_range_ok(uaddr, len)) return EFAULT;
  return user_copy(uaddr, kbuf.subarray(0, len), true, false) === 0 ? 0 : EFAULT;
}

/** copyinstr(9): a NUL-terminated string of at most maxlen bytes (NUL included). */
export function copyinstr(uaddr: number, maxlen: number): { error: number; str: string } {
  const out: number[] = [];
  const b = new Uint8Array(1);
  for (let i = 0; i < maxlen; i++) {
    if (copyin(uaddr + i, b, 1) !== 0) return { error: EFAULT, str: "" };
    if (b[0] === 0) return { error: 0, str: new TextDecoder().decode(new Uint8Array(out)) };
    out.push(b[0]);
  }
  return { error: ENAMETOOLONG, str: "" };
}
