// mm/slub.c, mm/slab_common.c, include/linux/slab.h: kmem caches and kmalloc.
//
// A slab is one block from the buddy allocator (PG_slab on its head page, tails point
// at the head) cut into objects of the cache's size; free objects are tracked per slab.
// kmalloc rounds up to the kmalloc-N caches (8 .. 8192); larger requests take pages
// directly (kmalloc_large: a compound block, PG_head). Slabs use the smallest order that
// holds one object (as with the slub_max_order=0 boot option) and an empty slab goes back
// to the buddy allocator at once (min_partial = 0), so a leak check over free pages sees
// exactly what is still allocated.
//
// Debug checks of SLUB (slub_debug=F) are always on: freeing an address that is not an
// object start, or an object already free, is a BUG.
//
// Locking: the per-cache lists are only touched by synchronous code.

import { PAGE_SIZE, type Hpa, type Kva } from "../../machine/addr.js";
import type { linux_kernel } from "../init/main.js";
import { __GFP_ZERO, gfpflags_allow_blocking, type gfp_t } from "../include/linux/gfp_types.js";
import { PG_head, PG_slab, PG_tail, type page } from "../include/linux/mm_types.js";
import { PAGE_OFFSET } from "../arch/x86/include/asm/page.js";
import { BUG, WARN } from "../kernel/panic.js";
import { might_sleep } from "../kernel/sched/might_sleep.js";
import { MAX_PAGE_ORDER, __free_pages, alloc_pages_nowait, check_gfp, free_the_page, get_order, page_address } from "./page_alloc.js";

/** kmalloc(0) returns this: not NULL, and faults when dereferenced. */
export const ZERO_SIZE_PTR = 16 as Kva;
export const KMALLOC_MIN_SIZE = 8;
/** Largest size served from a kmalloc cache (SLUB: two pages). */
export const KMALLOC_MAX_CACHE_SIZE = 2 * PAGE_SIZE;
/** Largest kmalloc at all: one MAX_PAGE_ORDER block. */
export const KMALLOC_MAX_SIZE = PAGE_SIZE << MAX_PAGE_ORDER;

export class kmem_cache {
  /** Slabs with at least one free object, in allocation order. */
  readonly partial: page[] = [];
  nr_slabs = 0;
  readonly objects: number;
  readonly order: number;

  constructor(
    readonly name: string,
    readonly object_size: number,
    readonly size: number,
  ) {
    this.order = get_order(size);
    this.objects = Math.floor((PAGE_SIZE << this.order) / size);
  }
}

export const KMALLOC_SIZES = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];

export function create_kmalloc_caches(): kmem_cache[] {
  return KMALLOC_SIZES.map((n) => new kmem_cache(n >= 1024 ? `kmalloc-${n / 1024}k` : `kmalloc-${n}`, n, n));
}

export function kmem_cache_create(name: string, size: number, align = 8): kmem_cache {
  const s = Math.ceil(Math.max(size, 8) / align) * align;
  return new kmem_cache(name, size, s);
}

function kmalloc_slab(k: linux_kernel, size: number): kmem_cache {
  for (const c of k.kmalloc_caches) if (c.size >= size) return c;
  throw new Error("unreachable: kmalloc_slab beyond KMALLOC_MAX_CACHE_SIZE");
}

/** allocate_slab: a new slab from the buddy allocator. */
function new_slab(k: linux_kernel, s: kmem_cache, gfp: gfp_t): page | null {
  const p = alloc_pages_nowait(k, gfp & ~__GFP_ZERO, s.order);
  if (p === null) return null;
  p.flags |= PG_slab | (s.order > 0 ? PG_head : 0);
  for (let i = 1; i < 1 << s.order; i++) {
    const t = k.zone.mem_map[p.pfn + i];
    t.flags |= PG_tail;
    t.compound_head = p;
  }
  p.compound_order = s.order;
  p.slab_cache = s;
  p.slab_freelist = Array.from({ length: s.objects }, (_, i) => i);
  p.slab_inuse = 0;
  s.nr_slabs++;
  s.partial.push(p);
  return p;
}

function discard_slab(k: linux_kernel, s: kmem_cache, p: page): void {
  const i = s.partial.indexOf(p);
  if (i >= 0) s.partial.splice(i, 1);
  s.nr_slabs--;
  p.flags &= ~PG_slab;
  p.slab_cache = null;
  p.slab_freelist = null;
  // The slab owned the block (refcount 1): free it as a whole.
  p._refcount = 0;
  free_the_page(k, p, s.order);
}

/** slab_alloc_node: never sleeps; `gfp` only decides zeroing and what a new slab may do. */
export function kmem_cache_alloc_nowait(k: linux_kernel, s: kmem_cache, gfp: gfp_t): Kva | null {
  let slab: page | null = s.partial[0] ?? null;
  if (slab === null) slab = new_slab(k, s, gfp);
  if (slab === null) return null;
  const idx = slab.slab_freelist!.shift()!;
  slab.slab_inuse++;
  if (slab.slab_freelist!.length === 0) s.partial.shift();
  const addr = (page_address(slab) + idx * s.size) as Kva;
  if (gfp & __GFP_ZERO) k.machine.ram.fill((addr - PAGE_OFFSET) as Hpa, s.object_size, 0);
  return addr;
}

export async function kmem_cache_alloc(k: linux_kernel, s: kmem_cache, gfp: gfp_t): Promise<Kva | null> {
  check_gfp(k, gfp, "kmem_cache_alloc");
  if (gfpflags_allow_blocking(gfp)) might_sleep(k, "mm/slub.c:kmem_cache_alloc");
  return kmem_cache_alloc_nowait(k, s, gfp);
}

/** virt_to_page for a direct-map address, or null outside RAM. */
function virt_to_page_or_null(k: linux_kernel, addr: number): page | null {
  const pfn = Math.floor((addr - PAGE_OFFSET) / PAGE_SIZE);
  if (!(addr >= PAGE_OFFSET) || pfn >= k.zone.spanned_pages) return null;
  return k.zone.mem_map[pfn];
}

/** kmalloc without the sleeping check (callers that hold no may-sleep flag or check it). */
export function kmalloc_nowait(k: linux_kernel, size: number, gfp: gfp_t): Kva | null {
  check_gfp(k, gfp, "kmalloc");
  if (size === 0) return ZERO_SIZE_PTR;
  if (!(size > 0) || !Number.isFinite(size)) return null;
  if (size > KMALLOC_MAX_CACHE_SIZE) {
    if (size > KMALLOC_MAX_SIZE) {
      WARN(k, "mm/slab_common.c kmalloc_large", `kmalloc of ${size} bytes exceeds KMALLOC_MAX_SIZE`);
      return null;
    }
    // kmalloc_large: a compound block straight from the page allocator.
    const order = get_order(size);
    const p = alloc_pages_nowait(k, gfp, order);
    if (p === null) return null;
    p.flags |= PG_head;
    p.compound_order = order;
    for (let i = 1; i < 1 << order; i++) {
      const t = k.zone.mem_map[p.pfn + i];
      t.flags |= PG_tail;
      t.compound_head = p;
    }
    return page_address(p);
  }
  return kmem_cache_alloc_nowait(k, kmalloc_slab(k, size), gfp);
}

export async function kmalloc(k: linux_kernel, size: number, gfp: gfp_t): Promise<Kva | null> {
  check_gfp(k, gfp, "kmalloc");
  if (gfpflags_allow_blocking(gfp)) might_sleep(k, "mm/slub.c:kmalloc");
  return kmalloc_nowait(k, size, gfp);
}

interface object_ref {
  slab: page;
  cache: kmem_cache;
  index: number;
}

function slab_object(k: linux_kernel, addr: number, who: string): object_ref | { large: page } {
  const p0 = virt_to_page_or_null(k, addr);
  if (p0 === null) BUG(k, `${who}: address 0x${addr.toString(16)} is not in the direct map`, "kernel BUG at mm/slub.c");
  const p = p0.compound_head ?? p0;
  if (p.flags & PG_slab) {
    const s = p.slab_cache as kmem_cache;
    const off = addr - page_address(p);
    if (off % s.size !== 0 || off / s.size >= s.objects)
      BUG(k, `${s.name} (Not tainted): Invalid object pointer 0x${addr.toString(16)}`, `${who}: not the start of an object`);
    return { slab: p, cache: s, index: off / s.size };
  }
  if (p.flags & PG_head && p._refcount > 0 && addr === page_address(p)) return { large: p };
  BUG(k, `${who}: 0x${addr.toString(16)} was not allocated by kmalloc`, "kernel BUG at mm/slub.c");
}

export function kmem_cache_free(k: linux_kernel, s: kmem_cache, addr: Kva): void {
  const o = slab_object(k, addr, "kmem_cache_free");
  if ("large" in o || o.cache !== s) BUG(k, `kmem_cache_free: 0x${addr.toString(16)} does not belong to cache ${s.name}`);
  free_object(k, o);
}

function free_object(k: linux_kernel, o: object_ref): void {
  const fl = o.slab.slab_freelist!;
  if (fl.includes(o.index))
    BUG(k, `${o.cache.name} (Not tainted): Object already free`, `Object 0x${(page_address(o.slab) + o.index * o.cache.size).toString(16)} freed twice`);
  if (fl.length === 0) o.cache.partial.push(o.slab);
  fl.push(o.index);
  o.slab.slab_inuse--;
  if (o.slab.slab_inuse === 0) discard_slab(k, o.cache, o.slab);
}

export function kfree(k: linux_kernel, addr: Kva | null): void {
  if (addr === null || addr === ZERO_SIZE_PTR || addr === 0) return;
  const o = slab_object(k, addr, "kfree");
  if ("large" in o) {
    const p = o.large;
    const order = p.compound_order;
    for (let i = 1; i < 1 << order; i++) {
      const t = k.zone.mem_map[p.pfn + i];
      t.flags &= ~PG_tail;
      t.compound_head = null;
    }
    p.flags &= ~PG_head;
    __free_pages(k, p, order);
    return;
  }
  free_object(k, o);
}

/** ksize: the usable size of a kmalloc'ed object. */
export function ksize(k: linux_kernel, addr: Kva): number {
  if (addr === ZERO_SIZE_PTR) return 0;
  const o = slab_object(k, addr, "ksize");
  if ("large" in o) return PAGE_SIZE << o.large.compound_order;
  if (o.slab.slab_freelist!.includes(o.index)) BUG(k, `${o.cache.name}: ksize of a free object 0x${addr.toString(16)}`);
  return o.cache.object_size;
}
