// fs/read_write.c: read(2), write(2) and lseek(2) through f_op->read / f_op->write /
// f_op->llseek. A file without llseek (a pipe, a tty) is not seekable: ESPIPE.

import type { Uva } from "../../machine/addr.js";
import type { linux_kernel } from "../init/main.js";
import { EBADF, EFAULT, EINVAL, ESPIPE } from "../include/linux/errno.js";
import { FMODE_READ, FMODE_WRITE } from "../include/linux/fs_types.js";
import { TASK_SIZE_MAX } from "../arch/x86/include/asm/page.js";
import { fget, fput } from "./file_table.js";

/** MAX_RW_COUNT: INT_MAX rounded down to a page. */
const MAX_RW_COUNT = 0x7ffff000;

const access_ok = (addr: number, size: number): boolean => size <= TASK_SIZE_MAX && addr <= TASK_SIZE_MAX - size;

export async function ksys_read(k: linux_kernel, fd: number, buf: Uva, count: number): Promise<number> {
  const f = fget(k, fd);
  if (f === null) return -EBADF;
  try {
    if ((f.f_mode & FMODE_READ) === 0) return -EBADF;
    if (f.f_op.read === undefined) return -EINVAL;
    if (count < 0) return -EINVAL;
    if (!access_ok(buf, count)) return -EFAULT;
    return await f.f_op.read(f, buf, Math.min(count, MAX_RW_COUNT));
  } finally {
    await fput(k, f);
  }
}

export async function ksys_write(k: linux_kernel, fd: number, buf: Uva, count: number): Promise<number> {
  const f = fget(k, fd);
  if (f === null) return -EBADF;
  try {
    if ((f.f_mode & FMODE_WRITE) === 0) return -EBADF;
    if (f.f_op.write === undefined) return -EINVAL;
    if (count < 0) return -EINVAL;
    if (!access_ok(buf, count)) return -EFAULT;
    return await f.f_op.write(f, buf, Math.min(count, MAX_RW_COUNT));
  } finally {
    await fput(k, f);
  }
}

/** lseek(2): the new offset or -errno. */
export async function ksys_lseek(k: linux_kernel, fd: number, offset: number, whence: number): Promise<number> {
  const f = fget(k, fd);
  if (f === null) return -EBADF;
  try {
    if (whence < 0 || whence > 4 /* SEEK_MAX (SEEK_HOLE) */) return -EINVAL;
    if (f.f_op.llseek === undefined) return -ESPIPE;
    return await f.f_op.llseek(f, offset, whence);
  } finally {
    await fput(k, f);
  }
}
