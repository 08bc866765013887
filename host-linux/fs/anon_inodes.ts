// fs/anon_inodes.c: files with no name in any filesystem, all sharing one inode
// (anon_inode_inode); KVM's VM and vcpu fds are such files.

import type { linux_kernel } from "../init/main.js";
import { ENOENT } from "../include/linux/errno.js";
import { O_ACCMODE, O_CLOEXEC, O_NONBLOCK, type file_operations } from "../include/linux/fs_types.js";
import { S_IFREG, inode } from "./inode.js";
import { file, open_fmode } from "./file_table.js";
import { fd_install, get_unused_fd_flags, put_unused_fd } from "./file.js";
import { try_module_get } from "../kernel/module/main.js";
import { might_sleep } from "../kernel/sched/might_sleep.js";

export function anon_inode_init(k: linux_kernel): inode {
  return new inode(k.last_ino++, S_IFREG | 0o600, 0, {});
}

/** anon_inode_getfile: a new file on the shared inode, holding a reference on the
 *  operations' module; -ENOENT if that module is going away. */
export function anon_inode_getfile(k: linux_kernel, name: string, fops: file_operations, priv: unknown, flags: number): file | number {
  if (!try_module_get(k, fops.owner)) return -ENOENT;
  const ino = k.anon_inode;
  ino.i_count++;
  const f = new file(fops, ino, flags & (O_ACCMODE | O_NONBLOCK), open_fmode(flags), `anon_inode:${name}`);
  f.private_data = priv;
  return f;
}

export async function anon_inode_getfd(k: linux_kernel, name: string, fops: file_operations, priv: unknown, flags: number): Promise<number> {
  might_sleep(k, "fs/anon_inodes.c:anon_inode_getfd");
  const fd = get_unused_fd_flags(k, flags & O_CLOEXEC);
  if (fd < 0) return fd;
  const f = anon_inode_getfile(k, name, fops, priv, flags);
  if (typeof f === "number") {
    put_unused_fd(k, fd);
    return f;
  }
  fd_install(k, fd, f);
  return fd;
}

