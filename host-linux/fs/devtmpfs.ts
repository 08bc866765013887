// drivers/base/devtmpfs.c, fs/namei.c (the little of it used): the /dev directory,
// holding one inode per device node. Path lookup knows only "/dev/<name>".

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

/** Path lookup: the inode of an existing "/dev/<name>", or -ENOENT. */
export function lookup_path(k: linux_kernel, path: string): inode | number {
  const m = /^\/dev\/([^/]+)$/.exec(path.replace(/\/+/g, "/"));
  if (m === null) return -ENOENT;
  return k.devtmpfs.get(m[1]) ?? -ENOENT;
}
