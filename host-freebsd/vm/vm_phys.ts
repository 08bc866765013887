// sys/vm/vm_phys.c: the physical memory allocator, a binary buddy system.
//
// Free memory is kept as blocks of 2^order frames (order 0..VM_NFREEORDER-1), each
// aligned to its size, on one free list per order. Allocation splits a larger block;
// freeing coalesces a block with its buddy (the block at pfn ^ (1 << order)) as long
// as the buddy is free at the same order. vm_phys_alloc_contig finds a run of free
// frames meeting [low, high), alignment and boundary constraints anywhere in the free
// lists (spanning several blocks if needed) and gives the rest of the blocks back.
//
// Locking: free lists change only in synchronous code (the model's vm_phys_free_mtx).
// Frame 0 is never handed out (as the BIOS area is kept by a real kernel).

import { PAGE_SIZE } from "../sys/param.js";
import type { kernel } from "../sys/kernel.js";
import { vm_page } from "./vm_page.js";
import { panic } from "../kern/kern_shutdown.js";
import { hpa } from "../../machine/addr.js";
import { kwakeup } from "../kern/kern_synch.js";
import { tsleep } from "../kern/kern_synch.js";

/** amd64: orders 0..12 (up to 16 MiB blocks). */
export const VM_NFREEORDER = 13;
export const VM_FREEPOOL_DEFAULT = 0;
export const VM_NFREEPOOL = 1;

export class vm_phys_state {
  /** Heads (pfn) of free blocks, per order; insertion order is FIFO. */
  readonly vm_phys_free_queues: Set<number>[] = [];
  /** vm_cnt.v_free_count */
  free_count = 0;
  readonly npages: number;
  /** Threads waiting in vm_wait. */
  waiters = 0;
  constructor(npages: number) {
    this.npages = npages;
    for (let o = 0; o < VM_NFREEORDER; o++) this.vm_phys_free_queues.push(new Set());
  }
}

/** vm_phys_init + vm_page_startup: build vm_page_array and put every frame but the
 *  first `reserved` on the free lists. */
export function vm_phys_init(k: kernel, reserved = 1): void {
  const npages = k.machine.ram.npages;
  k.vm_phys = new vm_phys_state(npages);
  k.vm_page_array = new Array(npages);
  for (let i = 0; i < npages; i++) {
    const m = new vm_page(hpa(i * PAGE_SIZE));
    m.pool = VM_NFREEPOOL;
    m.ref_count = i < reserved ? 1 : 0;
    k.vm_page_array[i] = m;
  }
  vm_phys_enqueue_contig(k, reserved, npages);
}

function mark_free(k: kernel, pfn: number, n: number, free: boolean): void {
  for (let i = 0; i < n; i++) k.vm_page_array[pfn + i].pool = free ? VM_FREEPOOL_DEFAULT : VM_NFREEPOOL;
}

function enqueue(k: kernel, pfn: number, order: number): void {
  k.vm_page_array[pfn].order = order;
  k.vm_phys.vm_phys_free_queues[order].add(pfn);
}

function dequeue(k: kernel, pfn: number, order: number): void {
  const q = k.vm_phys.vm_phys_free_queues[order];
  if (!q.delete(pfn)) panic(`vm_phys: block ${pfn}/${order} not on its free list`);
  k.vm_page_array[pfn].order = VM_NFREEORDER;
}

/** vm_phys_enqueue_contig: put the free frames [start, end) on the free lists as the
 *  largest aligned blocks that fit (without coalescing: the caller guarantees the
 *  neighbours are not free buddies, or uses vm_phys_free_contig). */
function vm_phys_enqueue_contig(k: kernel, start: number, end: number): void {
  let pfn = start;
  while (pfn < end) {
    let order = VM_NFREEORDER - 1;
    while (order > 0 && (pfn % (1 << order) !== 0 || pfn + (1 << order) > end)) order--;
    enqueue(k, pfn, order);
    mark_free(k, pfn, 1 << order, true);
    k.vm_phys.free_count += 1 << order;
    pfn += 1 << order;
  }
}

/** vm_phys_alloc_pages: a block of 2^order frames, or null. The pages are not
 *  initialised beyond being marked allocated. */
export function vm_phys_alloc_pages(k: kernel, order: number): vm_page | null {
  const fq = k.vm_phys.vm_phys_free_queues;
  for (let o = order; o < VM_NFREEORDER; o++) {
    const it = fq[o].values().next();
    if (it.done) continue;
    const pfn = it.value;
    dequeue(k, pfn, o);
    // vm_phys_split_pages: give back the upper halves.
    for (let oo = o; oo > order; oo--) enqueue(k, pfn + (1 << (oo - 1)), oo - 1);
    mark_free(k, pfn, 1 << order, false);
    k.vm_phys.free_count -= 1 << order;
    return k.vm_page_array[pfn];
  }
  return null;
}

/** vm_phys_free_pages: free the block of 2^order frames starting at m, coalescing. */
export function vm_phys_free_pages(k: kernel, m: vm_page, order: number): void {
  let pfn = m.phys_addr / PAGE_SIZE;
  if (pfn % (1 << order) !== 0) panic(`vm_phys_free_pages: pfn ${pfn} not aligned to order ${order}`);
  for (let i = 0; i < 1 << order; i++)
    if (k.vm_page_array[pfn + i].pool !== VM_NFREEPOOL) panic(`vm_phys_free_pages: page 0x${((pfn + i) * PAGE_SIZE).toString(16)} is already free`);
  mark_free(k, pfn, 1 << order, true);
  k.vm_phys.free_count += 1 << order;
  while (order < VM_NFREEORDER - 1) {
    const buddy = pfn ^ (1 << order);
    if (buddy + (1 << order) > k.vm_phys.npages) break;
    const bm = k.vm_page_array[buddy];
    if (bm.pool !== VM_FREEPOOL_DEFAULT || bm.order !== order) break;
    dequeue(k, buddy, order);
    pfn = Math.min(pfn, buddy);
    order++;
  }
  enqueue(k, pfn, order);
  if (k.vm_phys.waiters > 0) kwakeup(k, k.vm_phys);
}

/** Free the frames [start, start + n) one aligned block at a time, coalescing. */
function vm_phys_free_contig(k: kernel, start: number, n: number): void {
  let pfn = start;
  const end = start + n;
  while (pfn < end) {
    let order = VM_NFREEORDER - 1;
    while (order > 0 && (pfn % (1 << order) !== 0 || pfn + (1 << order) > end)) order--;
    vm_phys_free_pages(k, k.vm_page_array[pfn], order);
    pfn += 1 << order;
  }
}

/**
 * vm_phys_alloc_contig: npages contiguous free frames whose physical addresses lie in
 * [low, high), start at a multiple of `alignment` (a power of two, bytes) and do not
 * cross a multiple of `boundary` (a power of two, bytes; 0 = none). Returns the first
 * page or null.
 */
export function vm_phys_alloc_contig(k: kernel, npages: number, low: number, high: number, alignment: number, boundary: number): vm_page | null {
  if (!Number.isInteger(npages) || npages <= 0) panic(`vm_phys_alloc_contig: npages ${npages}`);
  const pow2 = (x: number) => x > 0 && Number.isInteger(Math.log2(x));
  if (!pow2(alignment)) panic(`vm_phys_alloc_contig: alignment ${alignment} is not a power of 2`);
  if (boundary !== 0 && !pow2(boundary)) panic(`vm_phys_alloc_contig: boundary ${boundary} is not a power of 2`);
  const size = npages * PAGE_SIZE;
  if (boundary !== 0 && boundary < size) return null;
  // The free blocks in address order, merged into maximal runs of free frames.
  const blocks: [number, number][] = [];
  k.vm_phys.vm_phys_free_queues.forEach((q, o) => q.forEach((pfn) => blocks.push([pfn, o])));
  blocks.sort((a, b) => a[0] - b[0]);
  const align = Math.max(alignment, PAGE_SIZE);
  let runStart = -1;
  let runEnd = -1;
  const tryRun = (rs: number, re: number): number => {
    // Frames [rs, re) are free: the lowest start satisfying the constraints, or -1.
    let pa = Math.max(rs * PAGE_SIZE, low);
    for (;;) {
      pa = Math.ceil(pa / align) * align;
      if (boundary !== 0 && Math.floor(pa / boundary) !== Math.floor((pa + size - 1) / boundary))
        pa = Math.ceil((pa + 1) / boundary) * boundary;
      else break;
    }
    if (pa + size > Math.min(re * PAGE_SIZE, high)) return -1;
    return pa / PAGE_SIZE;
  };
  let found = -1;
  for (const [pfn, o] of blocks) {
    const end = pfn + (1 << o);
    if (pfn === runEnd) runEnd = end;
    else {
      if (runStart >= 0 && (found = tryRun(runStart, runEnd)) >= 0) break;
      runStart = pfn;
      runEnd = end;
    }
  }
  if (found < 0 && runStart >= 0) found = tryRun(runStart, runEnd);
  if (found < 0) return null;
  // Take every block that intersects [found, found + npages) and give back the rest.
  const fend = found + npages;
  for (const [pfn, o] of blocks) {
    const end = pfn + (1 << o);
    if (end <= found || pfn >= fend) continue;
    dequeue(k, pfn, o);
    mark_free(k, pfn, 1 << o, false);
    k.vm_phys.free_count -= 1 << o;
    if (pfn < found) vm_phys_free_contig(k, pfn, found - pfn);
    if (end > fend) vm_phys_free_contig(k, fend, end - fend);
  }
  return k.vm_page_array[found];
}

/** vm_wait: sleep until some memory is freed. */
export async function vm_wait(k: kernel): Promise<void> {
  k.vm_phys.waiters++;
  try {
    await tsleep(k.vm_phys, 0, "vmwait", 0);
  } finally {
    k.vm_phys.waiters--;
  }
}

/** vm_free_count(): frames on the free lists. */
export const vm_free_count = (k: kernel): number => k.vm_phys.free_count;
