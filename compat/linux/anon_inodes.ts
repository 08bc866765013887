// include/linux/anon_inodes.h: files that have no name in any filesystem (KVM's VM and
// vcpu file descriptors).

import { linux_api } from "./export.js";
import type { file_operations } from "./fs_types.js";

export const anon_inode_getfd = (name: string, fops: file_operations, priv: unknown, flags: number): Promise<number> =>
  linux_api().anon_inode_getfd(name, fops, priv, flags);
