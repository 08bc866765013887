// include/linux/fs.h: struct file, struct inode, struct file_operations, as a module
// sees them (the kernel's own struct file is fs/file_table.ts's, a superset).

import type { Uva } from "../../../machine/addr.js";
import type { module } from "./module_types.js";
import type { vm_area_struct } from "./mm_types.js";

export interface inode {
  readonly i_ino: number;
  /** Device number for a character-device inode (misc devices: major 10). */
  readonly i_rdev: number;
  i_private: unknown;
}

export interface file {
  readonly f_op: file_operations;
  /** Driver's per-open data. */
  private_data: unknown;
  readonly f_flags: number;
  readonly f_mode: number;
}

export interface file_operations {
  readonly owner?: module | null;
  /** read(2)/write(2): bytes transferred or -errno; `buf` is the raw user pointer. */
  read?(filp: file, buf: Uva, count: number): Promise<number>;
  write?(filp: file, buf: Uva, count: number): Promise<number>;
  open?(ino: inode, filp: file): Promise<number>;
  release?(ino: inode, filp: file): Promise<number>;
  /** Returns a non-negative result (passed to userspace) or -errno. `arg` is the raw
   *  unsigned long the user passed: a pointer for most commands. */
  unlocked_ioctl?(filp: file, cmd: number, arg: number): Promise<number>;
  compat_ioctl?(filp: file, cmd: number, arg: number): Promise<number>;
  mmap?(filp: file, vma: vm_area_struct): Promise<number>;
  llseek?(filp: file, offset: number, whence: number): Promise<number>;
}

// f_flags (asm-generic/fcntl.h)
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o200000;
export const O_CLOEXEC = 0o2000000;
// f_mode
export const FMODE_READ = 0x1;
export const FMODE_WRITE = 0x2;
