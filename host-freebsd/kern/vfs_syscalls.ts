// sys/kern/vfs_syscalls.c, reduced: open(2). The model's file system is devfs alone:
// "/dev/<name>" opens a device node; anything else does not exist.

import { EINVAL, ENOENT } from "../sys/errno.js";
import { FFLAGS, O_ACCMODE } from "../sys/fcntl.js";
import type { thread } from "../sys/proc.js";
import { devfs_open } from "../fs/devfs/devfs_vnops.js";

export async function kern_openat(td: thread, path: string, flags: number): Promise<number> {
  if ((flags & O_ACCMODE) === O_ACCMODE) return EINVAL;
  if (!path.startsWith("/dev/") || path.length <= 5) return ENOENT;
  const r = await devfs_open(td, path.slice(5), FFLAGS(flags));
  if (r.error !== 0) return r.error;
  td.td_retval[0] = BigInt(r.fd);
  return 0;
}
