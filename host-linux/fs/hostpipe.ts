// A file whose writes leave the machine: a process's stdout/stderr connected to a
// HostPipe (the terminal the lkvm command runs in), as a tty would be. Writes copy
// from user memory page by page; reads return end of file.

import { PAGE_SIZE, type Uva } from "../../machine/addr.js";
import type { HostPipe } from "../../machine/host_pipe.js";
import type { linux_kernel } from "../init/main.js";
import { EFAULT } from "../include/linux/errno.js";
import { FMODE_WRITE, O_WRONLY, type file_operations } from "../include/linux/fs_types.js";
import { S_IFCHR, inode } from "./inode.js";
import { file } from "./file_table.js";
import { copy_from_user } from "../lib/usercopy.js";

export function hostpipe_file(k: linux_kernel, pipe: HostPipe, name: string): file {
  const fops: file_operations = {
    read: async () => 0,
    write: async (_filp, buf: Uva, count: number) => {
      let done = 0;
      while (done < count) {
        const n = Math.min(PAGE_SIZE, count - done);
        const chunk = new Uint8Array(n);
        const left = await copy_from_user(k, chunk, (buf + done) as Uva, n);
        if (n - left > 0) pipe.write(chunk.subarray(0, n - left));
        done += n - left;
        if (left > 0) return done > 0 ? done : -EFAULT;
      }
      return done;
    },
  };
  const ino = new inode(k.last_ino++, S_IFCHR | 0o620, 0, fops);
  const f = new file(fops, ino, O_WRONLY, FMODE_WRITE, name);
  f.private_data = pipe;
  return f;
}
