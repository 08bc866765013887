// drivers/base/devtmpfs.c: the /dev directory, holding one inode per device node.

import type { linux_kernel } from "../init/main.js";
import { EEXIST, ENOENT } from "../include/linux/errno.js";
import { S_IFCHR, inode } from "./inode.js";
import { def_chr_fops } from "./char_dev.js";

export function devtmpfs_create_node(k: linux_kernel, name: string, devt: number): number {
  if (k.devtmpfs.has(name)) return -EEXIST;
  k.devtmpfs.set(name, new inode(k.last_ino++, S_IFCHR | 0o600, devt, def_chr_fops(k)));
  return 0;
}

export function devtmpfs_delete_node(k: linux_kernel, name: string): void {
  k.devtmpfs.delete(name);
}

/** The inode of the device node `name` in /dev, or -ENOENT. */
export function devtmpfs_lookup(k: linux_kernel, name: string): inode | number {
  return k.devtmpfs.get(name) ?? -ENOENT;
}
