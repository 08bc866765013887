// fs/inode.c, include/linux/kdev_t.h: the kernel's struct inode and device numbers.

import type { inode as module_inode, file_operations } from "../include/linux/fs_types.js";

export const MINORBITS = 20;
export const MKDEV = (major: number, minor: number): number => major * 2 ** MINORBITS + minor;
export const MAJOR = (dev: number): number => Math.floor(dev / 2 ** MINORBITS);
export const MINOR = (dev: number): number => dev % 2 ** MINORBITS;

// i_mode file types (include/uapi/linux/stat.h)
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFREG = 0o100000;
export const S_ISDIR = (m: number): boolean => (m & S_IFMT) === S_IFDIR;

export class inode implements module_inode {
  i_private: unknown = null;
  /** References from dentries and open files (i_count). */
  i_count = 1;

  constructor(
    readonly i_ino: number,
    readonly i_mode: number,
    readonly i_rdev: number,
    /** Default file operations of files opened on this inode (def_chr_fops for devices). */
    readonly i_fop: file_operations,
  ) {}
}
