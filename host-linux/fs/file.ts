// fs/file.c: the per-process file-descriptor table (files_struct / fdtable):
// lowest-free-fd allocation, fd_install, close_fd, close-on-exit, and sharing (CLONE_FILES:
// count) or copying (dup_fd) the table for a new thread.

import type { linux_kernel } from "../init/main.js";
import { EBADF, EMFILE } from "../include/linux/errno.js";
import { O_CLOEXEC } from "../include/linux/fs_types.js";
import type { task_struct } from "../include/linux/sched.js";
import { get_current } from "../arch/x86/kernel/percpu.js";
import { type file, fput, get_file } from "./file_table.js";

/** RLIMIT_NOFILE soft limit. */
export const NR_OPEN_DEFAULT = 1024;

export class files_struct {
  /** fd → file; undefined/null is a free slot. */
  readonly fdt: (file | null)[] = [];
  readonly close_on_exec = new Set<number>();
  /** fds reserved by get_unused_fd_flags and not yet installed. */
  readonly reserved = new Set<number>();
  count = 1;
}

/** get_unused_fd_flags: the lowest free fd, reserved; -EMFILE when none. */
export function get_unused_fd_flags(k: linux_kernel, flags: number): number {
  const files = get_current(k).files;
  if (files === null) return -EMFILE;
  for (let fd = 0; fd < NR_OPEN_DEFAULT; fd++) {
    if ((files.fdt[fd] ?? null) === null && !files.reserved.has(fd)) {
      files.reserved.add(fd);
      if (flags & O_CLOEXEC) files.close_on_exec.add(fd);
      else files.close_on_exec.delete(fd);
      return fd;
    }
  }
  return -EMFILE;
}

export function put_unused_fd(k: linux_kernel, fd: number): void {
  get_current(k).files?.reserved.delete(fd);
}

/** fd_install: the fd now refers to the file (the caller's reference moves to the table). */
export function fd_install(k: linux_kernel, fd: number, f: file): void {
  const files = get_current(k).files!;
  files.reserved.delete(fd);
  files.fdt[fd] = f;
}

/** Install a file at a fixed fd of a task being set up (its stdin/stdout/stderr). */
export function fd_install_task(t: task_struct, fd: number, f: file): void {
  t.files!.fdt[fd] = f;
}

/** close_fd: 0 or -EBADF. */
export async function close_fd(k: linux_kernel, fd: number): Promise<number> {
  const files = get_current(k).files;
  if (files === null || !Number.isInteger(fd) || fd < 0) return -EBADF;
  const f = files.fdt[fd] ?? null;
  if (f === null) return -EBADF;
  files.fdt[fd] = null;
  files.close_on_exec.delete(fd);
  await fput(k, f);
  return 0;
}

/** put_files_struct: drop a reference to a file table; the last one closes every fd. */
export async function put_files_struct(k: linux_kernel, files: files_struct): Promise<void> {
  if (--files.count > 0) return;
  for (let fd = 0; fd < files.fdt.length; fd++) {
    const f = files.fdt[fd] ?? null;
    if (f === null) continue;
    files.fdt[fd] = null;
    await fput(k, f);
  }
}

/** exit_files: the task leaves its file table (closing every fd if it was the last). */
export async function exit_files(k: linux_kernel, tsk: task_struct): Promise<void> {
  const files = tsk.files;
  if (files === null) return;
  tsk.files = null;
  await put_files_struct(k, files);
}

/** dup_fd: a copy of a file table (clone without CLONE_FILES): every open fd refers
 *  to the same file, with its own reference; fds reserved but not yet installed are
 *  not copied. */
export function dup_fd(old: files_struct): files_struct {
  const n = new files_struct();
  for (let fd = 0; fd < old.fdt.length; fd++) {
    const f = old.fdt[fd] ?? null;
    if (f === null) continue;
    n.fdt[fd] = get_file(f);
    if (old.close_on_exec.has(fd)) n.close_on_exec.add(fd);
  }
  return n;
}
