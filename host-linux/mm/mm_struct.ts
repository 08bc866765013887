// include/linux/mm_types.h struct mm_struct, kernel/fork.c mm_alloc / mmput: a user
// address space: its VMAs (sorted by address; the mmap lock is implicit because only
// synchronous code edits the list) and its x86-64 page tables rooted at pgd.

import type { linux_kernel } from "../init/main.js";
import type { page } from "../include/linux/mm_types.js";
import type { mm_struct as module_mm_struct } from "../include/linux/mm_struct.js";
import type { vm_area_struct } from "./mmap.js";
import { pgd_alloc } from "../arch/x86/mm/pgtable.js";

/** Top-down mmap allocations start below this address (no ASLR in this model). */
export const MMAP_BASE = 0x7f00_0000_0000;

export class mm_struct implements module_mm_struct {
  /** VMAs in address order (mm->mmap / the maple tree). */
  readonly mmap: vm_area_struct[] = [];
  mm_users = 1;
  /** Page-table pages below the pgd (mm->pgtables_bytes / PAGE_SIZE). */
  nr_pgtables = 0;
  /** Pages currently mapped (RSS). */
  rss = 0;
  readonly mmap_base = MMAP_BASE;

  constructor(readonly pgd: page) {}
}

/** mm_alloc: an empty address space, or null when no page is left for the pgd. */
export function mm_alloc(k: linux_kernel): mm_struct | null {
  const pgd = pgd_alloc(k);
  return pgd === null ? null : new mm_struct(pgd);
}
