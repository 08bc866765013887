// sys/kern/sys_generic.c: read(2), write(2) and ioctl(2).
//
// sys_ioctl decodes the command as sys/ioccom.h defines it and moves the argument
// itself, so drivers see only kernel memory:
//  - ENOTTY for a malformed command: no direction bit (a raw Linux _IO number), a
//    parameter larger than IOCPARM_MAX, or IOC_VOID with a size other than 0 or int;
//  - IOC_VOID with an int size: the int is passed by value (data points at a copy of
//    the argument word); size 0: data points at the argument word itself;
//  - IOC_IN: the parameter is copied in BEFORE the driver runs (EFAULT stops it);
//  - IOC_OUT: the buffer is zeroed, and copied out only when the driver returned 0.
// The driver returns a positive errno; a value for the caller goes in td_retval.

import { EBADF, EINVAL, ENOTTY } from "../sys/errno.js";
import { IOCPARM_LEN, IOCPARM_MAX, IOC_IN, IOC_OUT, IOC_VOID } from "../sys/ioccom.js";
import { FREAD, FWRITE } from "../sys/fcntl.js";
import type { thread } from "../sys/proc.js";
import { fdrop, fget } from "./kern_descrip.js";
import { copyin, copyout } from "../amd64/support.js";
import { printf } from "./subr_prf.js";

/** Largest read/write the model moves in one call (IOSIZE_MAX is larger; this bounds
 *  simulated memory use). */
const RW_MAX = 1 << 20;

export async function sys_read(td: thread, fd: number, buf: number, nbyte: number): Promise<number> {
  if (nbyte < 0 || nbyte > RW_MAX) return EINVAL;
  const g = fget(td, fd);
  if (g.error !== 0) return g.error;
  const fp = g.fp!;
  try {
    if ((fp.f_flag & FREAD) === 0) return EBADF;
    const kbuf = new Uint8Array(nbyte);
    td.td_retval[0] = 0n;
    const error = await fp.f_ops.fo_read(fp, kbuf, td);
    if (error !== 0) return error;
    const n = Number(td.td_retval[0]);
    return copyout(kbuf, buf, n);
  } finally {
    await fdrop(fp, td);
  }
}

export async function sys_write(td: thread, fd: number, buf: number, nbyte: number): Promise<number> {
  if (nbyte < 0 || nbyte > RW_MAX) return EINVAL;
  const g = fget(td, fd);
  if (g.error !== 0) return g.error;
  const fp = g.fp!;
  try {
    if ((fp.f_flag & FWRITE) === 0) return EBADF;
    const kbuf = new Uint8Array(nbyte);
    const error = copyin(buf, kbuf, nbyte);
    if (error !== 0) return error;
    return await fp.f_ops.fo_write(fp, kbuf, td);
  } finally {
    await fdrop(fp, td);
  }
}

/** sys_ioctl: ioctl(fd, com, data). */
export async function sys_ioctl(td: thread, fd: number, ucom: bigint, udata: bigint): Promise<number> {
  let com64 = BigInt.asUintN(64, ucom);
  if (com64 > 0xffffffffn) {
    printf(`WARNING pid ${td.td_proc.p_pid} (${td.td_proc.p_comm}): ioctl sign-extension ioctl ${com64.toString(16)}\n`);
    com64 &= 0xffffffffn;
  }
  const com = Number(com64);
  let size = IOCPARM_LEN(com);
  if (size > IOCPARM_MAX || (com & (IOC_VOID | IOC_IN | IOC_OUT)) === 0 || ((com & IOC_VOID) !== 0 && size > 0 && size !== 4))
    return ENOTTY;
  // Addresses at or above 2^47 are not user addresses; copyin/copyout refuse them.
  const uaddr = Number(BigInt.asUintN(64, udata));
  let data: Uint8Array;
  if (size > 0) {
    if ((com & IOC_VOID) !== 0) {
      // Integer argument: data points at a copy of the argument word.
      data = new Uint8Array(8);
      new DataView(data.buffer).setBigUint64(0, BigInt.asUintN(64, udata), true);
      size = 0;
    } else {
      // FreeBSD uses a small on-stack buffer or malloc(M_IOCTLOPS, M_WAITOK).
      data = new Uint8Array(size);
      if ((com & IOC_IN) !== 0) {
        const error = copyin(uaddr, data, size);
        if (error !== 0) return error;
      }
    }
  } else {
    data = new Uint8Array(8);
    new DataView(data.buffer).setBigUint64(0, BigInt.asUintN(64, udata), true);
  }
  let error = await kern_ioctl(td, fd, com, data);
  if (error === 0 && (com & IOC_OUT) !== 0 && size > 0) error = copyout(data, uaddr, size);
  return error;
}

export async function kern_ioctl(td: thread, fd: number, com: number, data: Uint8Array): Promise<number> {
  const g = fget(td, fd);
  if (g.error !== 0) return g.error;
  const fp = g.fp!;
  try {
    if ((fp.f_flag & (FREAD | FWRITE)) === 0) return EBADF;
    return await fp.f_ops.fo_ioctl(fp, com, data, td);
  } finally {
    await fdrop(fp, td);
  }
}
