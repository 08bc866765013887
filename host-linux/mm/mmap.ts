// mm/mmap.c, mm/util.c, mm/vma.c: VMAs, mmap(2), munmap(2) and the teardown of an
// address space at exit.
//
// Address selection is top-down below mm->mmap_base (get_unmapped_area); MAP_FIXED
// replaces what was mapped there. Anonymous MAP_SHARED memory behaves as private
// anonymous memory (there is no fork, so nothing could share it). A file mapping holds
// a reference to its file (vma->vm_file) and is given to the file's ->mmap, which may
// set vm_ops; unmapping calls vm_ops->close and puts the file.
//
// Locking: mmap_lock is implicit; the VMA list is edited only by synchronous code.

import { PAGE_SIZE, type Uva } from "../../machine/addr.js";
import type { linux_kernel } from "../init/main.js";
import { EACCES, EBADF, EINVAL, ENODEV, ENOMEM, EOPNOTSUPP } from "../include/linux/errno.js";
import { FMODE_READ, FMODE_WRITE, type file as module_file } from "../include/linux/fs_types.js";
import {
  VM_EXEC,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  type vm_area_struct as module_vma,
  type vm_operations_struct,
} from "../include/linux/mm_types.js";
import type { task_struct } from "../include/linux/sched.js";
import { TASK_SIZE_MAX } from "../arch/x86/include/asm/page.js";
import { get_current } from "../arch/x86/kernel/percpu.js";
import { switch_mm } from "../arch/x86/mm/tlb.js";
import { pgd_free } from "../arch/x86/mm/pgtable.js";
import { this_cpu } from "../arch/x86/kernel/percpu.js";
import type { mm_struct } from "./mm_struct.js";
import { zap_page_range } from "./memory.js";
import { type file, fget, fput, get_file } from "../fs/file_table.js";

// mman.h
export const PROT_NONE = 0x0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_SHARED_VALIDATE = 0x03;
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
/** Flags mmap accepts silently (legacy_mask and the ones this model implements). */
const MAP_KNOWN = MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE | 0x0800 /* MAP_DENYWRITE */ | 0x1000 /* MAP_EXECUTABLE */;

/** The kernel's struct vm_area_struct. */
export class vm_area_struct {
  vm_ops: vm_operations_struct | null = null;
  vm_private_data: unknown = null;

  constructor(
    readonly vm_mm: mm_struct,
    public vm_start: Uva,
    public vm_end: Uva,
    public vm_pgoff: number,
    public vm_flags: number,
    readonly vm_file: file | null,
  ) {}

  /** vma_is_anonymous. */
  is_anonymous(): boolean {
    return this.vm_file === null;
  }
}

const PAGE_ALIGN = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
const offset_in_page = (n: number): number => n % PAGE_SIZE;

/** find_vma: the first VMA ending above addr. */
export function find_vma(mm: mm_struct, addr: number): vm_area_struct | null {
  for (const v of mm.mmap) if (addr < v.vm_end) return v;
  return null;
}

function insert_vma(mm: mm_struct, v: vm_area_struct): void {
  let i = 0;
  while (i < mm.mmap.length && mm.mmap[i].vm_start < v.vm_start) i++;
  mm.mmap.splice(i, 0, v);
}

function range_is_free(mm: mm_struct, start: number, end: number): boolean {
  return !mm.mmap.some((v) => v.vm_start < end && start < v.vm_end);
}

/** get_unmapped_area, top-down: the highest gap below mmap_base that fits len. */
function get_unmapped_area(mm: mm_struct, hint: number, len: number): number {
  if (hint !== 0 && hint + len <= TASK_SIZE_MAX && range_is_free(mm, hint, hint + len)) return hint;
  let top = mm.mmap_base;
  for (let i = mm.mmap.length - 1; i >= -1; i--) {
    const v = i >= 0 ? mm.mmap[i] : null;
    if (v !== null && v.vm_start >= top) continue;
    const bottom = v === null ? PAGE_SIZE * 16 : v.vm_end;
    if (top - bottom >= len) return top - len;
    if (v !== null) top = Math.min(top, v.vm_start);
  }
  return -ENOMEM;
}

/** calc_vm_prot_bits | calc_vm_flag_bits | mm->def_flags | VM_MAY*. */
function vm_flags_for(prot: number, flags: number): number {
  let f = (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);
  f |= VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if ((flags & MAP_TYPE) === MAP_SHARED || (flags & MAP_TYPE) === MAP_SHARED_VALIDATE) f |= VM_SHARED | VM_MAYSHARE;
  return f;
}

/** do_mmap: the address of the new mapping, or -errno. */
export async function do_mmap(k: linux_kernel, f: file | null, addr: number, len: number, prot: number, flags: number, pgoff: number): Promise<number> {
  const mm = get_current(k).mm;
  if (mm === null) return -EINVAL;
  if (len === 0) return -EINVAL;
  len = PAGE_ALIGN(len);
  if (len === 0 || len > TASK_SIZE_MAX) return -ENOMEM;
  const type = flags & MAP_TYPE;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) return -EINVAL;
  if (type === MAP_SHARED_VALIDATE && flags & ~MAP_KNOWN) return -EOPNOTSUPP;
  if (f !== null) {
    if ((f.f_mode & FMODE_READ) === 0) return -EACCES;
    if (type !== MAP_PRIVATE && prot & PROT_WRITE && (f.f_mode & FMODE_WRITE) === 0) return -EACCES;
    if (f.f_op.mmap === undefined) return -ENODEV;
  }
  let start: number;
  if (flags & MAP_FIXED) {
    if (offset_in_page(addr) !== 0 || addr + len > TASK_SIZE_MAX) return -EINVAL;
    const r = await do_munmap(k, mm, addr, len);
    if (r < 0) return r;
    start = addr;
  } else {
    start = get_unmapped_area(mm, addr - offset_in_page(addr), len);
    if (start < 0) return start;
  }
  const vma = new vm_area_struct(mm, start as Uva, (start + len) as Uva, f !== null ? pgoff : start / PAGE_SIZE, vm_flags_for(prot, flags), f);
  if (f !== null) {
    get_file(f);
    const err = await f.f_op.mmap!(f as module_file, vma as unknown as module_vma);
    if (err < 0) {
      await fput(k, f);
      return err;
    }
  }
  insert_vma(mm, vma);
  return start;
}

/** remove_vma: the mapping is gone; tell the driver and drop the file. */
async function remove_vma(k: linux_kernel, v: vm_area_struct): Promise<void> {
  v.vm_ops?.close?.(v as unknown as module_vma);
  if (v.vm_file !== null) await fput(k, v.vm_file);
}

/** do_vmi_munmap: unmap [start, start + len), splitting VMAs at the edges. */
export async function do_munmap(k: linux_kernel, mm: mm_struct, start: number, len: number): Promise<number> {
  if (offset_in_page(start) !== 0 || start > TASK_SIZE_MAX || len > TASK_SIZE_MAX - start) return -EINVAL;
  len = PAGE_ALIGN(len);
  if (len === 0) return -EINVAL;
  const end = start + len;
  const gone: vm_area_struct[] = [];
  for (const v of [...mm.mmap]) {
    if (v.vm_end <= start || v.vm_start >= end) continue;
    // __split_vma at start and at end: the outside parts stay as VMAs of their own.
    if (v.vm_start < start) {
      const head = new vm_area_struct(mm, v.vm_start, start as Uva, v.vm_pgoff, v.vm_flags, v.vm_file);
      head.vm_ops = v.vm_ops;
      head.vm_private_data = v.vm_private_data;
      if (v.vm_file !== null) get_file(v.vm_file);
      insert_vma(mm, head);
      v.vm_pgoff += (start - v.vm_start) / PAGE_SIZE;
      v.vm_start = start as Uva;
    }
    if (v.vm_end > end) {
      const tail = new vm_area_struct(mm, end as Uva, v.vm_end, v.vm_pgoff + (end - v.vm_start) / PAGE_SIZE, v.vm_flags, v.vm_file);
      tail.vm_ops = v.vm_ops;
      tail.vm_private_data = v.vm_private_data;
      if (v.vm_file !== null) get_file(v.vm_file);
      insert_vma(mm, tail);
      v.vm_end = end as Uva;
    }
    mm.mmap.splice(mm.mmap.indexOf(v), 1);
    zap_page_range(k, mm, v.vm_start, v.vm_end);
    gone.push(v);
  }
  for (const v of gone) await remove_vma(k, v);
  return 0;
}

/** exit_mmap: unmap everything and free the page tables. */
async function exit_mmap(k: linux_kernel, mm: mm_struct): Promise<void> {
  const all = [...mm.mmap];
  mm.mmap.length = 0;
  for (const v of all) zap_page_range(k, mm, v.vm_start, v.vm_end);
  for (const v of all) await remove_vma(k, v);
  pgd_free(k, mm);
}

/** exit_mm: the task leaves its address space; the last user tears it down. */
export async function exit_mm(k: linux_kernel, tsk: task_struct): Promise<void> {
  const mm = tsk.mm;
  if (mm === null) return;
  tsk.mm = null;
  switch_mm(k, this_cpu(k).cpu, null);
  if (--mm.mm_users === 0) await exit_mmap(k, mm);
}

/** ksys_mmap_pgoff. */
export async function ksys_mmap_pgoff(k: linux_kernel, addr: number, len: number, prot: number, flags: number, fd: number, pgoff: number): Promise<number> {
  let f: file | null = null;
  if ((flags & MAP_ANONYMOUS) === 0) {
    f = fget(k, fd);
    if (f === null) return -EBADF;
  }
  try {
    return await do_mmap(k, f, addr, len, prot, flags, pgoff);
  } finally {
    if (f !== null) await fput(k, f);
  }
}

/** vm_mmap (mm/util.c): mmap(2) of a file from inside the kernel, for the current
 *  process (old DRM drivers mapped their buffers this way from an ioctl); the offset
 *  is in bytes and must be page aligned. The user address, or -errno. */
export async function vm_mmap(k: linux_kernel, f: file, addr: number, len: number, prot: number, flag: number, offset: number): Promise<number> {
  if (offset_in_page(offset) !== 0 || offset < 0) return -EINVAL;
  return do_mmap(k, f, addr, len, prot, flag, offset / PAGE_SIZE);
}

/** vm_munmap (mm/mmap.c): munmap(2) from inside the kernel. */
export async function vm_munmap(k: linux_kernel, start: number, len: number): Promise<number> {
  const mm = get_current(k).mm;
  if (mm === null) return -EINVAL;
  return do_munmap(k, mm, start, len);
}

/** sys_mmap (arch/x86/kernel/sys_x86_64.c): the offset must be page aligned. */
export async function sys_mmap(k: linux_kernel, addr: number, len: number, prot: number, flags: number, fd: number, off: number): Promise<number> {
  if (offset_in_page(off) !== 0) return -EINVAL;
  return ksys_mmap_pgoff(k, addr, len, prot, flags, fd, off / PAGE_SIZE);
}

export async function sys_munmap(k: linux_kernel, addr: number, len: number): Promise<number> {
  const mm = get_current(k).mm;
  if (mm === null) return -EINVAL;
  return do_munmap(k, mm, addr, len);
}
