// mm/page_alloc.c, mm/mm_init.c: the buddy allocator over all of RAM (one zone).
//
// free_area[order] holds blocks of 2^order frames, each aligned to its size; a block's
// buddy is the block at pfn ^ (1 << order). Freeing merges a block with its buddy while
// the buddy is free and of the same order (PageBuddy, page->private == order), up to
// MAX_PAGE_ORDER. Reserved frames (below 1 MiB, the kernel image, mem_map) never enter
// the allocator.
//
// alloc_pages may sleep when the flags allow blocking (__GFP_DIRECT_RECLAIM); there is
// nothing to reclaim in this model, so that only means might_sleep() is checked and the
// caller may be rescheduled before the allocation fails. Failure returns null and logs a
// "page allocation failure" warning unless __GFP_NOWARN.
//
// Locking: zone->lock is implicit (only synchronous code touches the lists).

import { PAGE_SIZE, type Hpa, type Kva, type Pfn } from "../../machine/addr.js";
import type { linux_kernel } from "../init/main.js";
import {
  GFP_KNOWN_FLAGS,
  __GFP_NOWARN,
  __GFP_ZERO,
  gfp_names,
  gfpflags_allow_blocking,
  type gfp_t,
} from "../include/linux/gfp_types.js";
import { PG_buddy, PG_head, PG_reserved, PG_slab, PG_table, PG_tail, page } from "../include/linux/mm_types.js";
import { __va_raw } from "../arch/x86/include/asm/page.js";
import { BUG, WARN } from "../kernel/panic.js";
import { KERN_WARNING, printk } from "../kernel/printk/printk.js";
import { might_sleep } from "../kernel/sched/might_sleep.js";
import { get_current } from "../arch/x86/kernel/percpu.js";
import { cond_resched } from "../kernel/sched/core.js";

/** Largest block order (MAX_PAGE_ORDER: 4 MiB blocks). */
export const MAX_PAGE_ORDER = 10;
export const NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1;

interface free_area {
  head: page | null;
  nr_free: number;
}

export class zone {
  readonly free_area: free_area[] = Array.from({ length: NR_PAGE_ORDERS }, () => ({ head: null, nr_free: 0 }));
  /** mem_map: struct page of every frame. */
  readonly mem_map: page[];
  /** Frames handed to the allocator at boot (managed_pages). */
  managed_pages = 0;

  constructor(readonly spanned_pages: number) {
    this.mem_map = Array.from({ length: spanned_pages }, (_, i) => new page(i));
  }
}

function add_to_free_list(z: zone, p: page, order: number): void {
  const area = z.free_area[order];
  p.flags |= PG_buddy;
  p.private = order;
  p.lru_prev = null;
  p.lru_next = area.head;
  if (area.head !== null) area.head.lru_prev = p;
  area.head = p;
  area.nr_free++;
}

function del_page_from_free_list(z: zone, p: page, order: number): void {
  const area = z.free_area[order];
  if (p.lru_prev !== null) p.lru_prev.lru_next = p.lru_next;
  else area.head = p.lru_next;
  if (p.lru_next !== null) p.lru_next.lru_prev = p.lru_prev;
  p.lru_prev = p.lru_next = null;
  p.flags &= ~PG_buddy;
  p.private = 0;
  area.nr_free--;
}

/** __free_one_page: put a block back, merging with free buddies. */
function __free_one_page(z: zone, pfn: number, order: number): void {
  while (order < MAX_PAGE_ORDER) {
    const buddy_pfn = pfn ^ (1 << order);
    if (buddy_pfn + (1 << order) > z.spanned_pages) break;
    const buddy = z.mem_map[buddy_pfn];
    if ((buddy.flags & PG_buddy) === 0 || buddy.private !== order) break;
    del_page_from_free_list(z, buddy, order);
    pfn = pfn & buddy_pfn;
    order++;
  }
  add_to_free_list(z, z.mem_map[pfn], order);
}

/** memblock_free_all: give every unreserved frame of [start, end) to the allocator in
 *  the largest aligned blocks. */
export function free_area_init(z: zone, start: number, end: number): void {
  while (start < end) {
    let order = MAX_PAGE_ORDER;
    while (order > 0 && (start % (1 << order) !== 0 || start + (1 << order) > end)) order--;
    z.managed_pages += 1 << order;
    __free_one_page(z, start, order);
    start += 1 << order;
  }
}

export function mark_reserved(z: zone, start: number, end: number): void {
  for (let i = start; i < end && i < z.spanned_pages; i++) z.mem_map[i].flags |= PG_reserved;
}

/** nr_free_pages. */
export function nr_free_pages(z: zone): number {
  let n = 0;
  for (let o = 0; o < NR_PAGE_ORDERS; o++) n += z.free_area[o].nr_free << o;
  return n;
}

/** __rmqueue_smallest: take the first block of the smallest order >= `order`, splitting
 *  the rest back onto the lower lists (expand). */
function __rmqueue_smallest(z: zone, order: number): page | null {
  for (let cur = order; cur < NR_PAGE_ORDERS; cur++) {
    const p = z.free_area[cur].head;
    if (p === null) continue;
    del_page_from_free_list(z, p, cur);
    let high = cur;
    while (high > order) {
      high--;
      add_to_free_list(z, z.mem_map[p.pfn + (1 << high)], high);
    }
    return p;
  }
  return null;
}

/** Reject flags this kernel does not implement, by name. */
export function check_gfp(k: linux_kernel, gfp: gfp_t, where: string): void {
  const unknown = gfp & ~GFP_KNOWN_FLAGS;
  if (unknown !== 0) BUG(k, `${where}: unsupported gfp flags ${gfp_names(unknown)} (gfp 0x${gfp.toString(16)})`);
}

function prep_new_page(k: linux_kernel, p: page, order: number, gfp: gfp_t): void {
  const z = k.zone;
  for (let i = 0; i < 1 << order; i++) {
    const q = z.mem_map[p.pfn + i];
    if (q._refcount !== 0 || (q.flags & (PG_buddy | PG_slab | PG_reserved)) !== 0)
      BUG(k, `Bad page state in process ${get_current_safe(k)}  pfn:${q.pfn.toString(16).padStart(5, "0")}`,
        `page refcount:${q._refcount} flags:0x${q.flags.toString(16)} (allocating a page that is in use)`);
  }
  p._refcount = 1;
  p.alloc_order = order;
  if (gfp & __GFP_ZERO) k.machine.ram.fill((p.pfn * PAGE_SIZE) as Hpa, PAGE_SIZE << order, 0);
}

function get_current_safe(k: linux_kernel): string {
  try {
    return get_current(k).comm;
  } catch {
    return "swapper/0";
  }
}

/** get_page_from_freelist: the allocation proper; never sleeps. */
export function get_page_from_freelist(k: linux_kernel, gfp: gfp_t, order: number): page | null {
  const p = __rmqueue_smallest(k.zone, order);
  if (p !== null) prep_new_page(k, p, order, gfp);
  return p;
}

function warn_alloc(k: linux_kernel, gfp: gfp_t, order: number): void {
  if (gfp & __GFP_NOWARN) return;
  printk(k, KERN_WARNING, `${get_current_safe(k)}: page allocation failure: order:${order}, mode:0x${gfp.toString(16)}(${gfp_names(gfp)})`);
}

/** Allocation that must not sleep (page-fault path, GFP_ATOMIC callers, kernel
 *  stacks of new tasks): flags are checked, nothing may block. */
export function alloc_pages_nowait(k: linux_kernel, gfp: gfp_t, order: number): page | null {
  check_gfp(k, gfp, "alloc_pages");
  if (order < 0 || order > MAX_PAGE_ORDER || !Number.isInteger(order)) {
    if (!(gfp & __GFP_NOWARN)) WARN(k, "mm/page_alloc.c __alloc_pages", `WARN_ON_ONCE(order > MAX_PAGE_ORDER) order=${order}`);
    return null;
  }
  const p = get_page_from_freelist(k, gfp, order);
  if (p === null) warn_alloc(k, gfp, order);
  return p;
}

/** alloc_pages: may sleep iff gfpflags_allow_blocking(gfp). */
export async function alloc_pages(k: linux_kernel, gfp: gfp_t, order: number): Promise<page | null> {
  check_gfp(k, gfp, "alloc_pages");
  if (gfpflags_allow_blocking(gfp)) might_sleep(k, "mm/page_alloc.c:__alloc_pages");
  if (order < 0 || order > MAX_PAGE_ORDER || !Number.isInteger(order)) {
    if (!(gfp & __GFP_NOWARN)) WARN(k, "mm/page_alloc.c __alloc_pages", `WARN_ON_ONCE(order > MAX_PAGE_ORDER) order=${order}`);
    return null;
  }
  let p = get_page_from_freelist(k, gfp, order);
  if (p === null && gfpflags_allow_blocking(gfp)) {
    // __alloc_pages_slowpath: direct reclaim finds nothing to reclaim in this model;
    // give other tasks a chance to free memory, then retry once.
    await cond_resched(k);
    p = get_page_from_freelist(k, gfp, order);
  }
  if (p === null) warn_alloc(k, gfp, order);
  return p;
}

function bad_page(k: linux_kernel, p: page, reason: string): never {
  BUG(k, `Bad page state in process ${get_current_safe(k)}  pfn:${p.pfn.toString(16).padStart(5, "0")}`,
    `page refcount:${p._refcount} mapcount:${p.mapcount} flags:0x${p.flags.toString(16)}`, `page dumped because: ${reason}`);
}

/** free_pages_prepare + __free_one_page for a block whose refcount reached zero. */
export function free_the_page(k: linux_kernel, p: page, order: number): void {
  if (p.flags & PG_buddy) bad_page(k, p, "freeing a free page (double free)");
  if (p.flags & PG_reserved) bad_page(k, p, "PAGE_FLAGS_CHECK_AT_FREE flag(s) set: reserved");
  if (p.flags & PG_slab) bad_page(k, p, "PAGE_FLAGS_CHECK_AT_FREE flag(s) set: slab");
  if (p.mapcount !== 0) bad_page(k, p, "nonzero mapcount");
  if (p.alloc_order !== order)
    bad_page(k, p, `freed with order ${order}, allocated with order ${p.alloc_order}`);
  for (let i = 0; i < 1 << order; i++) {
    const q = k.zone.mem_map[p.pfn + i];
    q.flags &= ~(PG_head | PG_tail | PG_table);
    q.compound_head = null;
    q.compound_order = 0;
    q.alloc_order = -1;
    q._refcount = 0;
  }
  __free_one_page(k.zone, p.pfn, order);
}

/** put_page_testzero. */
function put_page_testzero(k: linux_kernel, p: page): boolean {
  if (p._refcount <= 0) bad_page(k, p, "put_page on a page with refcount 0 (use after free or double free)");
  return --p._refcount === 0;
}

/** __free_pages: drop the caller's reference; the block is freed when it was the last.
 *  For a non-compound high-order block whose head is still referenced, the tail part
 *  is freed at once (as Linux does), leaving the head page to its other holder. */
export function __free_pages(k: linux_kernel, p: page, order: number): void {
  if (put_page_testzero(k, p)) {
    free_the_page(k, p, order);
  } else if ((p.flags & PG_head) === 0) {
    while (order-- > 0) {
      const tail = k.zone.mem_map[p.pfn + (1 << order)];
      tail.alloc_order = order;
      free_the_page(k, tail, order);
    }
    p.alloc_order = 0;
  }
}

export function get_page(k: linux_kernel, p: page): void {
  if (p._refcount <= 0) bad_page(k, p, "get_page on a free page");
  p._refcount++;
}

/** put_page: drop a reference; the last one frees the page (order 0, or the whole
 *  compound page for a head). */
export function put_page(k: linux_kernel, p: page): void {
  const head = p.compound_head ?? p;
  if (put_page_testzero(k, head)) free_the_page(k, head, head.alloc_order < 0 ? 0 : head.alloc_order);
}

export const page_to_pfn = (p: page): Pfn => p.pfn as Pfn;
export const page_address = (p: page): Kva => __va_raw((p.pfn * PAGE_SIZE) as Hpa);

export function pfn_to_page(k: linux_kernel, pfn: Pfn): page {
  const p = k.zone.mem_map[pfn];
  if (p === undefined) BUG(k, `pfn_to_page: pfn 0x${Number(pfn).toString(16)} beyond mem_map (${k.zone.spanned_pages} frames)`);
  return p;
}

/** get_order: the order of the smallest block holding `size` bytes. */
export function get_order(size: number): number {
  let order = 0;
  while (PAGE_SIZE << order < size) order++;
  return order;
}
