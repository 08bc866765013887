// fs/ioctl.c: ioctl(2). The generic commands are handled here; the rest go to the
// driver's unlocked_ioctl with the raw user argument (the driver copies what it needs).
// A driver's -ENOIOCTLCMD means "not mine" and reaches userspace as -ENOTTY; a positive
// return value is passed through (KVM_CREATE_VM returns an fd).

import type { linux_kernel } from "../init/main.js";
import { EBADF, ENOIOCTLCMD, ENOTTY } from "../include/linux/errno.js";
import { O_NONBLOCK } from "../include/linux/fs_types.js";
import { get_current } from "../arch/x86/kernel/percpu.js";
import { type file, fget, fput } from "./file_table.js";
import { get_user_u32 } from "../lib/usercopy.js";

export const FIONCLEX = 0x5450;
export const FIOCLEX = 0x5451;
export const FIONBIO = 0x5421;

export async function vfs_ioctl(f: file, cmd: number, arg: number): Promise<number> {
  if (f.f_op.unlocked_ioctl === undefined) return -ENOTTY;
  const error = await f.f_op.unlocked_ioctl(f, cmd, arg);
  return error === -ENOIOCTLCMD ? -ENOTTY : error;
}

export async function sys_ioctl(k: linux_kernel, fd: number, cmd: number, arg: number): Promise<number> {
  const f = fget(k, fd);
  if (f === null) return -EBADF;
  try {
    const files = get_current(k).files!;
    switch (cmd) {
      case FIOCLEX:
        files.close_on_exec.add(fd);
        return 0;
      case FIONCLEX:
        files.close_on_exec.delete(fd);
        return 0;
      case FIONBIO: {
        // The int flag is read from user memory; only setting/clearing O_NONBLOCK.
        const v = get_user_u32(k, arg);
        if (v < 0) return v;
        f.f_flags = v ? f.f_flags | O_NONBLOCK : f.f_flags & ~O_NONBLOCK;
        return 0;
      }
      default:
        return await vfs_ioctl(f, cmd, arg);
    }
  } finally {
    await fput(k, f);
  }
}
