// mm/memory.c: the page-fault core (handle_mm_fault) and unmapping (zap_page_range).
//
// Anonymous memory is zero-filled on first touch (do_anonymous_page). A file mapping
// asks the driver's vm_ops->fault for the page (do_fault); a write fault in a private
// file mapping copies it (do_cow_fault). Each PTE mapping a page holds one reference to
// it; zapping drops it, so a page pinned by get_user_pages outlives munmap until
// put_page.
//
// The API exported to modules has no get_page(), so the reference a Linux ->fault
// handler takes with get_page() before returning vmf->page is taken here on its
// behalf, as soon as the handler returns the page.
//
// Runs synchronously (the fault path of this model never sleeps): allocations here
// never block and fail as VM_FAULT_OOM.

import { PAGE_SIZE, type Hpa, type Uva } from "../../machine/addr.js";
import { PTE_FRAME, PTE_NX, PTE_P, PTE_RW, PTE_US } from "../../machine/x86/paging64.js";
import type { linux_kernel } from "../init/main.js";
import { GFP_HIGHUSER, __GFP_ZERO } from "../include/linux/gfp_types.js";
import {
  PG_reserved,
  VM_EXEC,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_SHARED,
  VM_WRITE,
  page,
  type vm_fault,
  type vm_fault_t,
} from "../include/linux/mm_types.js";
import type { vm_area_struct as module_vma } from "../include/linux/mm_types.js";
import type { mm_struct } from "./mm_struct.js";
import type { vm_area_struct } from "./mmap.js";
import { alloc_pages_nowait, get_page, put_page } from "./page_alloc.js";
import { free_pgd_range, pte_alloc, pte_lookup } from "../arch/x86/mm/pgtable.js";
import { BUG } from "../kernel/panic.js";

export const VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS;

function mk_pte(p: page, vma: vm_area_struct, writable: boolean): bigint {
  let e = BigInt(p.pfn * PAGE_SIZE) | PTE_P | PTE_US;
  if (writable) e |= PTE_RW;
  if ((vma.vm_flags & VM_EXEC) === 0) e |= PTE_NX;
  return e;
}

function set_pte(k: linux_kernel, mm: mm_struct, at: Hpa, p: page, vma: vm_area_struct, writable: boolean): void {
  k.machine.ram.write64(at, mk_pte(p, vma, writable));
  p.mapcount++;
  mm.rss++;
}

/** handle_mm_fault: 0 when the address is now mapped, else VM_FAULT_* bits. */
export function handle_mm_fault(k: linux_kernel, mm: mm_struct, vma: vm_area_struct, address: number, write: boolean): vm_fault_t {
  const va = address - (address % PAGE_SIZE);
  const at = pte_alloc(k, mm, va);
  if (at === null) return VM_FAULT_OOM;
  const old = k.machine.ram.read64(at);
  if (old & PTE_P) {
    // Present: a protection fault the VMA does not allow (or a spurious one).
    if (!write || old & PTE_RW) return 0;
    return VM_FAULT_SIGBUS;
  }
  const writable = (vma.vm_flags & VM_WRITE) !== 0;
  if (vma.is_anonymous()) {
    // do_anonymous_page
    const p = alloc_pages_nowait(k, GFP_HIGHUSER | __GFP_ZERO, 0);
    if (p === null) return VM_FAULT_OOM;
    set_pte(k, mm, at, p, vma, writable);
    return 0;
  }
  // do_fault: the driver provides the page.
  const fault = vma.vm_ops?.fault;
  if (fault === undefined) return VM_FAULT_SIGBUS;
  const vmf: vm_fault = {
    vma: vma as unknown as module_vma,
    pgoff: vma.vm_pgoff + (va - vma.vm_start) / PAGE_SIZE,
    address: va as Uva,
    write,
    page: null,
  };
  const ret = fault.call(vma.vm_ops, vmf);
  if (ret & VM_FAULT_ERROR) return ret;
  if (ret & VM_FAULT_NOPAGE) return 0;
  const fp = vmf.page;
  if (!(fp instanceof page)) BUG(k, `handle_mm_fault: ${vma.vm_file?.f_path ?? "?"} ->fault returned no page (ret 0x${ret.toString(16)})`);
  get_page(k, fp);
  if (write && (vma.vm_flags & VM_SHARED) === 0) {
    // do_cow_fault: a private copy of the file page.
    const copy = alloc_pages_nowait(k, GFP_HIGHUSER, 0);
    if (copy === null) {
      put_page(k, fp);
      return VM_FAULT_OOM;
    }
    k.machine.ram.frame(copy.pfn as never).set(k.machine.ram.frame(fp.pfn as never));
    put_page(k, fp);
    set_pte(k, mm, at, copy, vma, writable);
    return 0;
  }
  // A read fault in a private mapping maps the file page read-only (a later write
  // copies it, which this model does not do: the write fault is refused).
  set_pte(k, mm, at, fp, vma, writable && (vma.vm_flags & VM_SHARED) !== 0);
  return 0;
}

/** The page mapped at `va`, or null. */
export function follow_page(k: linux_kernel, mm: mm_struct, va: number, write: boolean): page | null {
  const at = pte_lookup(k, mm, va);
  if (at === null) return null;
  const e = k.machine.ram.read64(at);
  if ((e & PTE_P) === 0n || (write && (e & PTE_RW) === 0n)) return null;
  return k.zone.mem_map[Number(e & PTE_FRAME) / PAGE_SIZE] ?? null;
}

/** zap_page_range + free_pgtables: unmap [start, end), dropping each mapped page's
 *  reference, then free the page-table pages left empty. */
export function zap_page_range(k: linux_kernel, mm: mm_struct, start: number, end: number): void {
  const ram = k.machine.ram;
  for (let va = start; va < end; va += PAGE_SIZE) {
    const at = pte_lookup(k, mm, va);
    if (at === null) {
      // Skip to the next page table.
      const next = (Math.floor(va / 2 ** 21) + 1) * 2 ** 21;
      va = next - PAGE_SIZE;
      continue;
    }
    const e = ram.read64(at);
    if ((e & PTE_P) === 0n) continue;
    ram.write64(at, 0n);
    mm.rss--;
    const p = k.zone.mem_map[Number(e & PTE_FRAME) / PAGE_SIZE];
    if (p === undefined || p.flags & PG_reserved) continue;
    p.mapcount--;
    put_page(k, p);
  }
  free_pgd_range(k, mm, start, end);
}
