// include/linux/mm_types.h: struct page, struct vm_area_struct, struct vm_fault.
// A page is opaque to modules: they only pass it back to the kernel (page_address,
// page_to_pfn, __free_pages). The vm_area_struct and vm_fault interfaces are what a
// driver sees; the kernel's vma is mm/mmap.ts's.

import type { Uva } from "../../../machine/addr.js";
import type { file } from "./fs_types.js";

// page->flags (include/linux/page-flags.h) and page types.
export const PG_reserved = 1 << 0;
export const PG_slab = 1 << 1;
export const PG_head = 1 << 2;
export const PG_tail = 1 << 3;
/** PageBuddy: free, the first page of a block on a free_area list. */
export const PG_buddy = 1 << 4;
/** PageTable: a page-table page. */
export const PG_table = 1 << 5;

/** struct page: one per RAM frame, in mem_map (mm/page_alloc.ts). */
export class page {
  flags = 0;
  /** References (page_ref_count): 0 when free; alloc_pages returns 1. */
  _refcount = 0;
  /** page->private: the order of a free buddy block (head page). */
  private = 0;
  /** lru list links: the free_area list a buddy block is on. */
  lru_prev: page | null = null;
  lru_next: page | null = null;
  /** Tail pages of a compound page (slab, large kmalloc) point at the head. */
  compound_head: page | null = null;
  compound_order = 0;
  /** Order the page was allocated with (page_owner's record), -1 when free. */
  alloc_order = -1;
  /** Slab page: its cache, free object indices and objects in use. */
  slab_cache: unknown = null;
  slab_freelist: number[] | null = null;
  slab_inuse = 0;
  /** Number of page-table entries mapping the page (_mapcount + 1). */
  mapcount = 0;

  constructor(readonly pfn: number) {}
}

export type vm_fault_t = number;
export const VM_FAULT_OOM = 0x000001;
export const VM_FAULT_SIGBUS = 0x000002;
export const VM_FAULT_NOPAGE = 0x000100;

export interface vm_fault {
  readonly vma: vm_area_struct;
  /** Offset of the faulting page in the mapping's file, in pages. */
  readonly pgoff: number;
  readonly address: Uva;
  readonly write: boolean;
  /** Set by the fault handler to the page that backs the address (with a reference). */
  page: page | null;
}

export interface vm_operations_struct {
  /** Resolve a fault in the mapping. Synchronous in this model: the page-fault path
   *  runs without sleeping. */
  fault?(vmf: vm_fault): vm_fault_t;
  close?(vma: vm_area_struct): void;
}

// vm_flags
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYEXEC = 0x40;
export const VM_MAYSHARE = 0x80;
export const VM_IO = 0x4000;
export const VM_DONTEXPAND = 0x40000;

export interface vm_area_struct {
  readonly vm_start: Uva;
  readonly vm_end: Uva;
  /** Offset in the file, in pages (mmap's offset >> PAGE_SHIFT). */
  readonly vm_pgoff: number;
  vm_flags: number;
  readonly vm_file: file;
  vm_ops: vm_operations_struct | null;
  vm_private_data: unknown;
}
