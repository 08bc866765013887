// vm_mmap / vm_munmap for Linux modules: map a Linux file into the calling process from
// inside the kernel, the way the 2007 port mapped the VM's memory from its ioctl
// ("Implement the mmap() on the VM file descriptor as an ioctl()", Aug 7 2007):
//
//   "Since from a module we cannot execute our code when a pagefault occurs without
//    writing great amounts of code, and we know in advance the physical frames that
//    will be mapped ..., we immediately insert the pages into the newly mapped areas."
//
// So: the setup mmap(2) of a Linux file does (linux_mmap_object: address space, the
// driver's fops.mmap, a device object), then ask vm_ops->fault for every page now, put
// each in the object and enter it in the pmap, then insert the map entry. The object's
// pager has no fault hook into the module: a fault on a page that is not resident fails
// (the process gets EFAULT / a signal).
// The same code serves every preset: only mmap(2) of a Linux file depends on
// file_mmap (linux_compat.ts); this path is the one that worked without fo_mmap.

import { curthread } from "../../host-freebsd/sys/pcpu.js";
import { PAGE_SIZE } from "../../host-freebsd/sys/param.js";
import { PROT_EXEC as BSD_PROT_EXEC, PROT_READ as BSD_PROT_READ, PROT_WRITE as BSD_PROT_WRITE } from "../../host-freebsd/sys/mman.js";
import { MAP_ENTRY_SHARED, vm_map_delete, vm_map_insert } from "../../host-freebsd/vm/vm_map.js";
import { VM_PAGER_FAIL, vm_object_deallocate, vm_page_insert, type cdev_pager_ops } from "../../host-freebsd/vm/vm_object.js";
import { KERN_SUCCESS, pmap_enter, pmap_remove } from "../../host-freebsd/amd64/pmap.js";
import { VM_MAXUSER_ADDRESS } from "../../host-freebsd/amd64/vmparam.js";
import type { Uva } from "../../machine/addr.js";
import * as LE from "../linux/errno.js";
import { FMODE_READ, FMODE_WRITE, type file } from "../linux/fs_types.js";
import { MAP_SHARED, MAP_TYPE, PROT_EXEC, PROT_READ, PROT_WRITE } from "../linux/mman.js";
import { VM_EXEC, VM_FAULT_OOM, VM_READ, VM_SHARED, VM_WRITE } from "../linux/mm_types.js";
import { linux_file, linux_mmap_object, linux_vma_close, linux_vma_fault } from "./linux_compat.js";
import type { linuxkpi_state } from "./linuxkpi_state.js";

/** The pager of a vm_mmap'ed object: every page was entered at map time, so there is
 *  nothing to fault in; the object holds the file until it dies. */
function linux_vm_mmap_pager_ops(): cdev_pager_ops {
  return {
    cdev_pg_ctor: () => 0,
    cdev_pg_fault: () => ({ rv: VM_PAGER_FAIL, page: null }),
    cdev_pg_dtor: linux_vma_close,
  };
}

const bsd_prot = (prot: number) => (prot & PROT_READ ? BSD_PROT_READ : 0) | (prot & PROT_WRITE ? BSD_PROT_WRITE : 0) | (prot & PROT_EXEC ? BSD_PROT_EXEC : 0);

/** linux_vm_mmap: the user address of a new shared mapping of `f`, or -errno. */
export async function linux_vm_mmap(s: linuxkpi_state, f: file, addr: number, len: number, prot: number, flag: number, offset: number): Promise<number> {
  const filp = f as linux_file;
  if (!(filp instanceof linux_file) || filp._file === null) return -LE.EBADF;
  if (!filp.f_op.mmap) return -LE.ENODEV;
  if (offset < 0 || offset % PAGE_SIZE !== 0 || len <= 0) return -LE.EINVAL;
  // DIVERGENCE: only MAP_SHARED and a kernel-chosen address (addr 0): the pages are the
  // driver's, and the port mapped them shared.
  if ((flag & MAP_TYPE) !== MAP_SHARED || addr !== 0) return -LE.EINVAL;
  if ((prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0) return -LE.EINVAL;
  if ((prot & PROT_READ && !(filp.f_mode & FMODE_READ)) || (prot & PROT_WRITE && !(filp.f_mode & FMODE_WRITE))) return -LE.EACCES;
  const size = Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  if (size > VM_MAXUSER_ADDRESS) return -LE.ENOMEM;
  const vs = curthread().td_proc.p_vmspace;
  const vm_flags = (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0) | VM_SHARED;
  const bprot = bsd_prot(prot);
  const m = await linux_mmap_object(s, filp, vs, size, bprot, vm_flags, offset, linux_vm_mmap_pager_ops());
  if (m.r < 0) return m.r;
  const { addr: start, obj, vma } = m;
  // Every page now, from the driver's fault handler: no fault can reach it later.
  const pindex0 = offset / PAGE_SIZE;
  let error = 0;
  for (let i = 0; i < size / PAGE_SIZE && error === 0; i++) {
    const va = start + i * PAGE_SIZE;
    const page = linux_vma_fault(vma!, pindex0 + i, va, (prot & PROT_WRITE) !== 0);
    if (typeof page === "number") {
      // No page behind this offset: nothing could supply it later either.
      error = page & VM_FAULT_OOM ? LE.ENOMEM : LE.EFAULT;
      break;
    }
    vm_page_insert(page, obj!, pindex0 + i);
    if (pmap_enter(vs.vm_pmap, va, page, bprot) !== KERN_SUCCESS) error = LE.ENOMEM;
  }
  if (error !== 0) {
    pmap_remove(vs.vm_pmap, start, start + size);
    await vm_object_deallocate(s.k, obj!);
    return -error;
  }
  vm_map_insert(vs.vm_map, obj!, offset, start, start + size, bprot, bprot, MAP_ENTRY_SHARED);
  return start;
}

/** linux_vm_munmap: munmap(2) from the kernel. */
export async function linux_vm_munmap(s: linuxkpi_state, start: Uva, len: number): Promise<number> {
  if (start % PAGE_SIZE !== 0 || len <= 0) return -LE.EINVAL;
  const size = Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  if (start + size > VM_MAXUSER_ADDRESS) return -LE.EINVAL;
  await vm_map_delete(s.k, curthread().td_proc.p_vmspace, start, start + size);
  return 0;
}
