// mm/gup.c: get_user_pages_fast. Each page of the range is looked up in the current
// process's page tables and, when absent (or read-only for a write pin), faulted in
// through the VMA like a user access would; the pin is a page reference (get_page),
// dropped by put_page. A range not covered by a suitable VMA stops the pinning there.

import { PAGE_SIZE, type Uva } from "../../machine/addr.js";
import type { linux_kernel } from "../init/main.js";
import { EFAULT } from "../include/linux/errno.js";
import { VM_IO, VM_READ, VM_WRITE, type page } from "../include/linux/mm_types.js";
import { get_current } from "../arch/x86/kernel/percpu.js";
import { might_sleep } from "../kernel/sched/might_sleep.js";
import { find_vma } from "./mmap.js";
import { follow_page, handle_mm_fault } from "./memory.js";
import { get_page } from "./page_alloc.js";

export async function get_user_pages_fast(k: linux_kernel, start: Uva, nr_pages: number, write: boolean, pages: page[]): Promise<number> {
  might_sleep(k, "mm/gup.c:get_user_pages_fast");
  const mm = get_current(k).mm;
  if (mm === null) return -EFAULT;
  const base = start - (start % PAGE_SIZE);
  let pinned = 0;
  for (; pinned < nr_pages; pinned++) {
    const va = base + pinned * PAGE_SIZE;
    let p = follow_page(k, mm, va, write);
    if (p === null) {
      const vma = find_vma(mm, va);
      if (vma === null || vma.vm_start > va || vma.vm_flags & VM_IO) break;
      if (write ? (vma.vm_flags & VM_WRITE) === 0 : (vma.vm_flags & VM_READ) === 0) break;
      if (handle_mm_fault(k, mm, vma, va, write) !== 0) break;
      p = follow_page(k, mm, va, write);
      if (p === null) break;
    }
    get_page(k, p);
    pages[pinned] = p;
  }
  return pinned === 0 && nr_pages > 0 ? -EFAULT : pinned;
}
