// fs/char_dev.c: character-device majors (register_chrdev) and chrdev_open, the open of
// every device inode, which hands the file to the driver of the inode's major.

import type { linux_kernel } from "../init/main.js";
import { EBUSY, ENXIO } from "../include/linux/errno.js";
import type { file_operations, inode as module_inode, file as module_file } from "../include/linux/fs_types.js";
import { MAJOR } from "./inode.js";
import type { file } from "./file_table.js";
import { fops_get, fops_put } from "../kernel/module/main.js";

export interface char_device_struct {
  readonly major: number;
  readonly name: string;
  readonly fops: file_operations;
}

export function register_chrdev(k: linux_kernel, major: number, name: string, fops: file_operations): number {
  if (k.chrdevs.has(major)) return -EBUSY;
  k.chrdevs.set(major, { major, name, fops });
  return 0;
}

export function unregister_chrdev(k: linux_kernel, major: number): void {
  k.chrdevs.delete(major);
}

/** chrdev_open: replace the inode's default operations with the driver's and open. */
async function chrdev_open(k: linux_kernel, ino: module_inode, filp: module_file): Promise<number> {
  const cd = k.chrdevs.get(MAJOR(ino.i_rdev));
  if (cd === undefined) return -ENXIO;
  const fops = fops_get(k, cd.fops);
  if (fops === null) return -ENXIO;
  const f = filp as file;
  fops_put(k, f.f_op);
  f.f_op = fops;
  if (fops.open !== undefined) return fops.open(ino, filp);
  return 0;
}

/** def_chr_fops: what a device inode's file starts with. */
export function def_chr_fops(k: linux_kernel): file_operations {
  return { open: (ino, filp) => chrdev_open(k, ino, filp) };
}
