// fs/open.c: open(2) and close(2). The files that exist are device nodes under /dev
// and debugfs under /sys/kernel/debug (fs/namei.ts).

import type { linux_kernel } from "../init/main.js";
import { EISDIR, ENAMETOOLONG, ENOENT, ENOTDIR, EFAULT } from "../include/linux/errno.js";
import { O_ACCMODE, O_CLOEXEC, O_DIRECTORY, O_NONBLOCK, O_RDONLY } from "../include/linux/fs_types.js";
import type { Uva } from "../../machine/addr.js";
import { file, open_fmode } from "./file_table.js";
import { close_fd, fd_install, get_unused_fd_flags, put_unused_fd } from "./file.js";
import { lookup_path } from "./namei.js";
import { S_ISDIR } from "./inode.js";
import { strncpy_from_user } from "../lib/usercopy.js";
import { fops_put } from "../kernel/module/main.js";

const PATH_MAX = 4096;

/** do_filp_open + do_dentry_open: a file opened on `path`, or -errno. */
export async function filp_open(k: linux_kernel, path: string, flags: number): Promise<file | number> {
  const ino = lookup_path(k, path);
  if (typeof ino === "number") return ino;
  // do_open: a directory opens read-only; O_DIRECTORY insists on one.
  if (S_ISDIR(ino.i_mode) && (flags & O_ACCMODE) !== O_RDONLY) return -EISDIR;
  if (flags & O_DIRECTORY && !S_ISDIR(ino.i_mode)) return -ENOTDIR;
  ino.i_count++;
  const f = new file(ino.i_fop, ino, flags & (O_ACCMODE | O_NONBLOCK), open_fmode(flags), path);
  const err = f.f_op.open !== undefined ? await f.f_op.open(ino, f) : 0;
  if (err < 0) {
    // A failed open is never released: only the module reference goes.
    fops_put(k, f.f_op);
    ino.i_count--;
    return err;
  }
  return f;
}

export async function do_sys_open(k: linux_kernel, filename: Uva, flags: number): Promise<number> {
  const name = strncpy_from_user(k, filename, PATH_MAX);
  if (typeof name === "number") return name === -EFAULT ? -EFAULT : -ENAMETOOLONG;
  if (name.length === 0) return -ENOENT;
  const fd = get_unused_fd_flags(k, flags & O_CLOEXEC);
  if (fd < 0) return fd;
  const f = await filp_open(k, name, flags);
  if (typeof f === "number") {
    put_unused_fd(k, fd);
    return f;
  }
  fd_install(k, fd, f);
  return fd;
}

export const sys_close = (k: linux_kernel, fd: number): Promise<number> => close_fd(k, fd);
