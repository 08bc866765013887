// fs/file_table.c, include/linux/fs.h: the kernel's struct file, its reference count
// (f_count) and __fput, which calls ->release and drops the module reference of the
// file's operations when the last reference goes.
//
// __fput runs in the context of the task that dropped the last reference (Linux defers
// it to task_work on the way back to user mode; the effect is the same process context).

import type { linux_kernel } from "../init/main.js";
import { FMODE_READ, FMODE_WRITE, O_ACCMODE, O_RDONLY, O_RDWR, O_WRONLY, type file as module_file, type file_operations } from "../include/linux/fs_types.js";
import { get_current } from "../arch/x86/kernel/percpu.js";
import { BUG } from "../kernel/panic.js";
import type { inode } from "./inode.js";
import { fops_put } from "../kernel/module/main.js";

export class file implements module_file {
  /** References: fds, VMAs, fget callers (f_count). */
  f_count = 1;
  f_pos = 0;
  private_data: unknown = null;

  constructor(
    public f_op: file_operations,
    readonly f_inode: inode,
    public f_flags: number,
    public f_mode: number,
    /** d_path of the file ("/dev/kvm", "anon_inode:kvm-vm"). */
    readonly f_path: string,
  ) {}
}

/** OPEN_FMODE: O_ACCMODE → FMODE_READ/FMODE_WRITE. */
export function open_fmode(flags: number): number {
  const acc = flags & O_ACCMODE;
  return (acc === O_RDONLY || acc === O_RDWR ? FMODE_READ : 0) | (acc === O_WRONLY || acc === O_RDWR ? FMODE_WRITE : 0);
}

export function get_file(f: file): file {
  f.f_count++;
  return f;
}

/** fget: a reference to the file behind fd in the current task, or null. */
export function fget(k: linux_kernel, fd: number): file | null {
  const files = get_current(k).files;
  if (files === null || !Number.isInteger(fd) || fd < 0) return null;
  const f = files.fdt[fd] ?? null;
  return f === null ? null : get_file(f);
}

export async function fput(k: linux_kernel, f: file): Promise<void> {
  if (f.f_count <= 0) BUG(k, `fput: file ${f.f_path} has f_count ${f.f_count} (use after free)`);
  if (--f.f_count === 0) await __fput(k, f);
}

async function __fput(k: linux_kernel, f: file): Promise<void> {
  if (f.f_op.release !== undefined) await f.f_op.release(f.f_inode, f);
  fops_put(k, f.f_op);
  f.f_inode.i_count--;
}
