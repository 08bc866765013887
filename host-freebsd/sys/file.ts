// sys/sys/file.h, sys/filedesc.h: open files, their operations, and descriptor tables.

import type { thread } from "./proc.js";
import type { vmspace } from "../vm/vm_map.js";

export const DTYPE_NONE = 0;
export const DTYPE_VNODE = 1;
export const DTYPE_PIPE = 3;
export const DTYPE_DEV = 11;

/** Result of fo_mmap: an errno and, on success, the address chosen. */
export interface fo_mmap_result {
  error: number;
  addr: number;
}

/** struct fileops. `data` for fo_ioctl is the kernel copy sys_ioctl made (or the
 *  8-byte value for commands without a buffer). fo_read/fo_write move bytes between
 *  a kernel buffer and the file; they set td_retval[0] to the byte count. */
export interface fileops {
  readonly name: string;
  fo_read(fp: file, buf: Uint8Array, td: thread): Promise<number>;
  fo_write(fp: file, buf: Uint8Array, td: thread): Promise<number>;
  fo_ioctl(fp: file, com: number, data: Uint8Array, td: thread): Promise<number>;
  fo_close(fp: file, td: thread): Promise<number>;
  fo_mmap(fp: file, vs: vmspace, size: number, prot: number, maxprot: number, flags: number, foff: number, td: thread): Promise<fo_mmap_result>;
}

export class file {
  f_count = 1;
  f_flag = 0;
  f_type = DTYPE_NONE;
  f_data: unknown = null;
  f_ops: fileops;
  /** For devfs files: the cdev (f_vnode's v_rdev in FreeBSD). */
  f_vnode: unknown = null;
  constructor(badfileops: fileops) {
    this.f_ops = badfileops;
  }
}

export class filedesc {
  /** fd_ofiles: the descriptor table; a slot holds a reference. */
  readonly fd_ofiles: (file | null)[] = [];
}
