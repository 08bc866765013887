// sys/compat/linuxkpi/common/src/linux_page.c: the page allocator. A Linux struct page
// is the FreeBSD vm_page; pages are wired while allocated, and freeing unwires them
// (the page goes back to vm_phys when its last reference, e.g. a user mapping's, goes).
//   order 0:  vm_page_alloc_noobj(VM_ALLOC_WIRED [| VM_ALLOC_ZERO])
//   order > 0: vm_page_alloc_noobj_contig(..., npages, 0, ~0, PAGE_SIZE, 0)
// or, with the 2007 port's preset, vm_phys_alloc_contig for every size and a hash
// table pfn -> page for pfn_to_page.

import type { Hpa, Kva, Pfn, Uva } from "../../machine/addr.js";
import { PAGE_SIZE } from "../../host-freebsd/sys/param.js";
import type { vmspace } from "../../host-freebsd/vm/vm_map.js";
import { M_WAITOK, M_ZERO } from "../../host-freebsd/sys/malloc.js";
import { panic } from "../../host-freebsd/kern/kern_shutdown.js";
import { witness_warn_sleep } from "../../host-freebsd/kern/subr_witness.js";
import { PHYS_TO_DMAP } from "../../host-freebsd/amd64/vmparam.js";
import { pmap_kextract } from "../../host-freebsd/amd64/pmap.js";
import {
  PHYS_TO_VM_PAGE, VM_ALLOC_WAITOK, VM_ALLOC_WIRED, VM_ALLOC_ZERO, vm_page, vm_page_alloc_noobj, vm_page_alloc_noobj_contig,
  vm_page_unwire_free, vm_page_wire,
} from "../../host-freebsd/vm/vm_page.js";
import { vm_phys_alloc_contig, vm_wait } from "../../host-freebsd/vm/vm_phys.js";
import { vm_fault, VM_PROT_READ, VM_PROT_WRITE } from "../../host-freebsd/vm/vm_fault.js";
import { KERN_SUCCESS } from "../../host-freebsd/amd64/pmap.js";
import { EFAULT } from "../linux/errno.js";
import type { page } from "../linux/mm_types.js";
import type { gfp_t } from "../linux/gfp_types.js";
import { linux_get_current } from "./linux_current.js";
import type { linuxkpi_state } from "./linuxkpi_state.js";
import { linux_check_m_flags } from "./linux_gfp.js";

function as_vm_page(p: page, what: string): vm_page {
  if (!(p instanceof vm_page)) panic(`${what}: not a struct page of this kernel`);
  return p;
}

/** linux_alloc_pages. */
export async function linux_alloc_pages(s: linuxkpi_state, flags: gfp_t, order: number): Promise<page | null> {
  const mflags = linux_check_m_flags(flags, "linux_alloc_pages");
  if (!Number.isInteger(order) || order < 0 || order > 10) panic(`linux_alloc_pages: order ${order}`);
  const npages = 1 << order;
  const wait = (mflags & M_WAITOK) !== 0;
  const req = VM_ALLOC_WIRED | (mflags & M_ZERO ? VM_ALLOC_ZERO : 0) | (wait ? VM_ALLOC_WAITOK : 0);
  if (s.config.alloc_pages === "vm_phys_alloc_contig") {
    if (wait) witness_warn_sleep("linux_alloc_pages(M_WAITOK)");
    for (;;) {
      const m = vm_phys_alloc_contig(s.k, npages, 0, 2 ** 32, PAGE_SIZE, 0);
      if (m !== null) {
        const base = m.phys_addr / PAGE_SIZE;
        for (let i = 0; i < npages; i++) {
          const pg = s.k.vm_page_array[base + i];
          pg.ref_count = 1;
          if (mflags & M_ZERO) s.k.machine.ram.fill(pg.phys_addr, PAGE_SIZE, 0);
          s.page_hash.set(base + i, pg);
        }
        return m;
      }
      if (!wait) return null;
      await vm_wait(s.k);
    }
  }
  // DIVERGENCE: an order > 0 block is only page-aligned (vm_page_alloc_noobj_contig
  // with PAGE_SIZE alignment, as LinuxKPI asks); Linux's buddy allocator returns blocks
  // aligned to their size.
  if (order === 0) return vm_page_alloc_noobj(req);
  return vm_page_alloc_noobj_contig(req, npages, 0, 2 ** 32, PAGE_SIZE, 0);
}

/** linux_free_pages (__free_pages). */
export function linux_free_pages(s: linuxkpi_state, p: page, order: number): void {
  const m = as_vm_page(p, "__free_pages");
  const base = m.phys_addr / PAGE_SIZE;
  for (let i = 0; i < 1 << order; i++) {
    const pg = s.k.vm_page_array[base + i];
    if (pg.ref_count <= 0) panic(`__free_pages: page 0x${pg.phys_addr.toString(16)} is not allocated (double free?)`);
    if (s.config.alloc_pages === "vm_phys_alloc_contig" && pg.ref_count === 1) s.page_hash.delete(base + i);
    vm_page_unwire_free(s.k, pg);
  }
}

export const linux_page_address = (p: page): Kva => PHYS_TO_DMAP(as_vm_page(p, "page_address").phys_addr);
export const linux_page_to_pfn = (p: page): Pfn => (as_vm_page(p, "page_to_pfn").phys_addr / PAGE_SIZE) as Pfn;

export function linux_pfn_to_page(s: linuxkpi_state, pfn: Pfn): page {
  if (s.config.alloc_pages === "vm_phys_alloc_contig") {
    // DIVERGENCE (2007 port): pfn_to_page only knows the pages the shim allocated.
    const m = s.page_hash.get(pfn);
    if (m === undefined) panic(`pfn_to_page: pfn 0x${pfn.toString(16)} not in the page hash`);
    return m;
  }
  const m = PHYS_TO_VM_PAGE(s.k, pfn * PAGE_SIZE);
  if (m === null) panic(`pfn_to_page: pfn 0x${pfn.toString(16)} beyond RAM`);
  return m;
}

/** __pa: vtophys. DIVERGENCE: for a kmalloc'ed object larger than a page the pages
 *  behind it are not physically contiguous, so __pa(p + PAGE_SIZE) is not
 *  __pa(p) + PAGE_SIZE as it is on Linux. */
export function linux_pa(s: linuxkpi_state, addr: Kva): Hpa {
  const pa = pmap_kextract(s.k, addr);
  if (pa === null) panic(`__pa: 0x${addr.toString(16)} is not a mapped kernel address`);
  return pa;
}

export const linux_va = (addr: Hpa): Kva => PHYS_TO_DMAP(addr);

export function linux_virt_to_page(s: linuxkpi_state, addr: Kva): page {
  return PHYS_TO_VM_PAGE(s.k, linux_pa(s, addr))!;
}

/**
 * get_user_pages_fast through vm_fault_quick_hold_pages: fault each page of the
 * current process in and hold it.
 * DIVERGENCE: all or nothing, as LinuxKPI's linux_get_user_pages_internal: where Linux
 * returns the number of pages pinned before a bad address, this returns -EFAULT and
 * pins none.
 */
export async function linux_get_user_pages_fast(s: linuxkpi_state, start: Uva, nr_pages: number, write: boolean, pages: page[]): Promise<number> {
  // current->mm, as Linux's get_user_pages_fast: the process's vmspace, or with the
  // static `current` of the 2007 snapshot, whichever process filled it in first.
  const mm = linux_get_current().mm;
  if (mm === null || nr_pages <= 0 || start % PAGE_SIZE !== 0) return -EFAULT;
  const vs = mm as vmspace;
  const held: vm_page[] = [];
  for (let i = 0; i < nr_pages; i++) {
    const r = vm_fault(s.k, vs, start + i * PAGE_SIZE, write ? VM_PROT_WRITE : VM_PROT_READ);
    if (r.rv !== KERN_SUCCESS || r.m === null) {
      for (const m of held) vm_page_unwire_free(s.k, m);
      return -EFAULT;
    }
    vm_page_wire(r.m);
    held.push(r.m);
  }
  for (let i = 0; i < held.length; i++) pages[i] = held[i];
  return held.length;
}

export function linux_put_page(s: linuxkpi_state, p: page): void {
  vm_page_unwire_free(s.k, as_vm_page(p, "put_page"));
}
