// fs/namei.c (the little of it this model needs): path lookup over the mounts that
// exist — devtmpfs on /dev and debugfs on /sys/kernel/debug. Paths are absolute (a
// relative one is looked up from /, the cwd of every process here); "." and ".." are
// resolved lexically; repeated slashes are one.

import type { linux_kernel } from "../init/main.js";
import { ENOENT } from "../include/linux/errno.js";
import type { inode } from "./inode.js";
import { devtmpfs_lookup } from "./devtmpfs.js";
import { DEBUGFS_MOUNTPOINT, debugfs_lookup } from "./debugfs/inode.js";

const DEBUGFS_COMPONENTS = DEBUGFS_MOUNTPOINT.split("/").filter((c) => c !== "");

/** The inode at `path`, or -errno (ENOENT, ENOTDIR). */
export function lookup_path(k: linux_kernel, path: string): inode | number {
  const comps: string[] = [];
  for (const c of path.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") comps.pop();
    else comps.push(c);
  }
  if (comps.length === 2 && comps[0] === "dev") return devtmpfs_lookup(k, comps[1]);
  if (DEBUGFS_COMPONENTS.every((c, i) => comps[i] === c)) return debugfs_lookup(k, comps.slice(DEBUGFS_COMPONENTS.length));
  return -ENOENT;
}
