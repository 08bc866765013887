// include/linux/debugfs.h. On Linux the files appear under /sys/kernel/debug; the
// FreeBSD shim maps them onto sysctl nodes (see compat/linuxkpi).

import { linux_api } from "./export.js";
import type { dentry, simple_attribute } from "./debugfs_types.js";

export type { dentry, simple_attribute };

/** NULL on failure (2.6.22); a NULL parent is the debugfs root. */
export const debugfs_create_dir = (name: string, parent: dentry | null): dentry | null => linux_api().debugfs_create_dir(name, parent);
export const debugfs_create_file = (name: string, mode: number, parent: dentry | null, data: unknown, fops: simple_attribute): dentry | null =>
  linux_api().debugfs_create_file(name, mode, parent, data, fops);
export const debugfs_remove_recursive = (d: dentry | null): void => linux_api().debugfs_remove_recursive(d);
