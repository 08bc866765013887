// arch/x86/mm/pgtable.c, include/linux/pgtable.h: 4-level page tables of a user
// address space, built in RAM frames from the buddy allocator so the machine's MMU
// (walk64) walks them. Intermediate entries carry _PAGE_TABLE (P|RW|US|A|D); leaf
// entries carry the VMA's protection. A page-table page no longer mapping anything is
// freed (free_pgtables) when its range is unmapped.
//
//   level 0 PML4 (pgd)  [47:39]   level 1 PDPT (pud) [38:30]
//   level 2 PD (pmd)    [29:21]   level 3 PT (pte)   [20:12]

import { PAGE_SIZE, type Hpa } from "../../../../machine/addr.js";
import { PTE_A, PTE_D, PTE_FRAME, PTE_P, PTE_RW, PTE_US } from "../../../../machine/x86/paging64.js";
import type { linux_kernel } from "../../../init/main.js";
import { GFP_KERNEL, __GFP_ZERO } from "../../../include/linux/gfp_types.js";
import { PG_table, type page } from "../../../include/linux/mm_types.js";
import type { mm_struct } from "../../../mm/mm_struct.js";
import { __free_pages, alloc_pages_nowait } from "../../../mm/page_alloc.js";

export const _PAGE_TABLE = PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D;
const SHIFTS = [39, 30, 21, 12];

const index_at = (va: number, level: number): number => Math.floor(va / 2 ** SHIFTS[level]) % 512;

/** A zeroed page-table page (GFP_PGTABLE_USER); never sleeps. */
function alloc_pgtable_page(k: linux_kernel): page | null {
  const p = alloc_pages_nowait(k, GFP_KERNEL | __GFP_ZERO, 0);
  if (p !== null) p.flags |= PG_table;
  return p;
}

function free_pgtable_page(k: linux_kernel, p: page): void {
  p.flags &= ~PG_table;
  __free_pages(k, p, 0);
}

export function pgd_alloc(k: linux_kernel): page | null {
  return alloc_pgtable_page(k);
}

/** Physical address of the PTE for `va`, allocating missing tables; null on OOM. */
export function pte_alloc(k: linux_kernel, mm: mm_struct, va: number): Hpa | null {
  const ram = k.machine.ram;
  let table = mm.pgd.pfn * PAGE_SIZE;
  for (let level = 0; level < 3; level++) {
    const at = (table + index_at(va, level) * 8) as Hpa;
    let e = ram.read64(at);
    if ((e & PTE_P) === 0n) {
      const p = alloc_pgtable_page(k);
      if (p === null) return null;
      mm.nr_pgtables++;
      e = BigInt(p.pfn * PAGE_SIZE) | _PAGE_TABLE;
      ram.write64(at, e);
    }
    table = Number(e & PTE_FRAME);
  }
  return (table + index_at(va, 3) * 8) as Hpa;
}

/** Physical address of the PTE for `va`, or null when a table on the way is missing. */
export function pte_lookup(k: linux_kernel, mm: mm_struct, va: number): Hpa | null {
  const ram = k.machine.ram;
  let table = mm.pgd.pfn * PAGE_SIZE;
  for (let level = 0; level < 3; level++) {
    const e = ram.read64((table + index_at(va, level) * 8) as Hpa);
    if ((e & PTE_P) === 0n) return null;
    table = Number(e & PTE_FRAME);
  }
  return (table + index_at(va, 3) * 8) as Hpa;
}

function table_is_empty(k: linux_kernel, pfn: number): boolean {
  const f = k.machine.ram.frame(pfn as never);
  for (let i = 0; i < f.length; i++) if (f[i] !== 0) return false;
  return true;
}

/** free_pgd_range: free the page-table pages covering [start, end) that no longer map
 *  anything (their leaf entries were cleared by the unmap). */
export function free_pgd_range(k: linux_kernel, mm: mm_struct, start: number, end: number): void {
  const ram = k.machine.ram;
  const walk = (table_pfn: number, level: number, lo: number, hi: number): void => {
    const span = 2 ** SHIFTS[level];
    for (let va = lo - (lo % span); va < hi; va += span) {
      const at = (table_pfn * PAGE_SIZE + index_at(va, level) * 8) as Hpa;
      const e = ram.read64(at);
      if ((e & PTE_P) === 0n) continue;
      const child = Number(e & PTE_FRAME) / PAGE_SIZE;
      if (level < 2) walk(child, level + 1, Math.max(lo, va), Math.min(hi, va + span));
      if (table_is_empty(k, child)) {
        ram.write64(at, 0n);
        free_pgtable_page(k, k.zone.mem_map[child]);
        mm.nr_pgtables--;
      }
    }
  };
  walk(mm.pgd.pfn, 0, start, end);
}

/** pgd_free: the root, once every lower table is gone. */
export function pgd_free(k: linux_kernel, mm: mm_struct): void {
  free_pgd_range(k, mm, 0, 2 ** 47);
  free_pgtable_page(k, mm.pgd);
}
