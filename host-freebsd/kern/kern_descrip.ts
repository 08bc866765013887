// sys/kern/kern_descrip.c: descriptor tables and file references.
//   falloc   a new file (badfileops until finit) installed in the lowest free slot;
//            returned with two references, one for the table and one for the caller
//   finit    give it a type, data and operations
//   fhold / fdrop   take / drop a reference; the last fdrop calls fo_close
//   fget     the file behind a descriptor, with a reference
// Each process's table is reached through td->td_proc->p_fd.

import { curthread } from "../sys/pcpu.js";
import { EBADF, EMFILE, ENODEV, ENOTTY, EOPNOTSUPP } from "../sys/errno.js";
import { file, filedesc, type fileops } from "../sys/file.js";
import type { thread } from "../sys/proc.js";
import { panic } from "./kern_shutdown.js";

/** Files per process (kern.maxfilesperproc, scaled down). */
export const MAXFILESPERPROC = 256;

export const badfileops: fileops = {
  name: "badfileops",
  fo_read: async () => EBADF,
  fo_write: async () => EBADF,
  fo_ioctl: async () => EBADF,
  fo_close: async () => 0,
  fo_mmap: async () => ({ error: EBADF, addr: 0 }),
};

/** Operations a file type does not support answer as FreeBSD's invfo_* do. */
export const invfo_ioctl = async () => ENOTTY;
export const invfo_mmap = async () => ({ error: ENODEV, addr: 0 });
export const invfo_rdwr = async () => EOPNOTSUPP;

export function fdinit(): filedesc {
  return new filedesc();
}

function fdalloc(fdp: filedesc): number {
  let fd = fdp.fd_ofiles.indexOf(null);
  if (fd < 0) fd = fdp.fd_ofiles.length;
  if (fd >= MAXFILESPERPROC) return -1;
  return fd;
}

/** falloc: a new file in a new descriptor of td's process. */
export function falloc(td: thread): { error: number; fp: file | null; fd: number } {
  const fdp = td.td_proc.p_fd;
  const fd = fdalloc(fdp);
  if (fd < 0) return { error: EMFILE, fp: null, fd: -1 };
  const fp = new file(badfileops);
  fp.f_count = 2;
  fdp.fd_ofiles[fd] = fp;
  return { error: 0, fp, fd };
}

/** falloc_noinstall: a new file with one reference and no descriptor. */
export function falloc_noinstall(): file {
  return new file(badfileops);
}

/** finstall: put fp in a new descriptor (the table takes its own reference). */
export function finstall(td: thread, fp: file): { error: number; fd: number } {
  const fdp = td.td_proc.p_fd;
  const fd = fdalloc(fdp);
  if (fd < 0) return { error: EMFILE, fd: -1 };
  fhold(fp);
  fdp.fd_ofiles[fd] = fp;
  return { error: 0, fd };
}

export function finit(fp: file, flag: number, type: number, data: unknown, ops: fileops): void {
  fp.f_flag = flag;
  fp.f_type = type;
  fp.f_data = data;
  fp.f_ops = ops;
}

export function fhold(fp: file): void {
  if (fp.f_count <= 0) panic(`fhold: file with f_count ${fp.f_count}`);
  fp.f_count++;
}

/** fdrop: drop a reference; the last one closes the file (fo_close may sleep). */
export async function fdrop(fp: file, td: thread = curthread()): Promise<number> {
  if (fp.f_count <= 0) panic(`fdrop: file ${fp.f_ops.name} with f_count ${fp.f_count}`);
  if (--fp.f_count > 0) return 0;
  const error = await fp.f_ops.fo_close(fp, td);
  fp.f_ops = badfileops;
  return error;
}

/** fget: the file at fd with a new reference, or EBADF. */
export function fget(td: thread, fd: number): { error: number; fp: file | null } {
  const fdp = td.td_proc.p_fd;
  if (!Number.isInteger(fd) || fd < 0 || fd >= fdp.fd_ofiles.length) return { error: EBADF, fp: null };
  const fp = fdp.fd_ofiles[fd];
  if (fp === null || fp.f_ops === badfileops) return { error: EBADF, fp: null };
  fhold(fp);
  return { error: 0, fp };
}

/** fdclose: undo a falloc after a failed open (the caller still holds its reference). */
export function fdclose(td: thread, fp: file, fd: number): void {
  const fdp = td.td_proc.p_fd;
  if (fdp.fd_ofiles[fd] === fp) {
    fdp.fd_ofiles[fd] = null;
    fp.f_count--;
  }
}

/** kern_close: close(2). */
export async function kern_close(td: thread, fd: number): Promise<number> {
  const fdp = td.td_proc.p_fd;
  if (!Number.isInteger(fd) || fd < 0 || fd >= fdp.fd_ofiles.length) return EBADF;
  const fp = fdp.fd_ofiles[fd];
  if (fp === null) return EBADF;
  fdp.fd_ofiles[fd] = null;
  return fdrop(fp, td);
}

/** fdescfree: close every descriptor of an exiting process. */
export async function fdescfree(td: thread): Promise<void> {
  const fdp = td.td_proc.p_fd;
  for (let fd = 0; fd < fdp.fd_ofiles.length; fd++) {
    const fp = fdp.fd_ofiles[fd];
    if (fp === null) continue;
    fdp.fd_ofiles[fd] = null;
    await fdrop(fp, td);
  }
}

