// sys/vm/vm_map.h, vm_map.c, reduced: address maps of entries over objects, and the
// vmspace (map + pmap) of each process.
//
// Locking: entries change only in synchronous code (the model's map lock), so the
// fault path (synchronous) always sees a consistent map.

import type { kernel } from "../sys/kernel.js";
import { PAGE_SIZE } from "../sys/param.js";
import { panic } from "../kern/kern_shutdown.js";
import { pmap, pmap_pinit, pmap_release, pmap_remove } from "../amd64/pmap.js";
import { vm_object_deallocate, vm_object_reference, type vm_object } from "./vm_object.js";
import { VM_MAXUSER_ADDRESS, VM_MMAP_BASE } from "../amd64/vmparam.js";

// MAP_ENTRY inheritance / sharing
export const MAP_ENTRY_SHARED = 0x1;

export class vm_map_entry {
  constructor(
    public start: number,
    public end: number,
    readonly object: vm_object | null,
    /** Byte offset of `start` in the object. */
    readonly offset: number,
    readonly protection: number,
    readonly max_protection: number,
    readonly eflags: number,
  ) {}
}

export class vm_map {
  /** Entries sorted by start, non-overlapping. */
  readonly entries: vm_map_entry[] = [];
  constructor(
    readonly min_offset: number,
    readonly max_offset: number,
  ) {}
}

export class vmspace {
  readonly vm_map: vm_map;
  constructor(
    readonly vm_pmap: pmap,
    min: number,
    max: number,
  ) {
    this.vm_map = new vm_map(min, max);
  }
}

/** vmspace_alloc: a new user address space with its own page-table root, or null. */
export function vmspace_alloc(k: kernel): vmspace | null {
  const pm = new pmap(k);
  if (!pmap_pinit(pm)) return null;
  return new vmspace(pm, 0, VM_MAXUSER_ADDRESS);
}

/** vm_map_lookup_entry: the entry containing addr, or null. */
export function vm_map_lookup_entry(map: vm_map, addr: number): vm_map_entry | null {
  for (const e of map.entries) {
    if (addr < e.start) return null;
    if (addr < e.end) return e;
  }
  return null;
}

/** vm_map_findspace: lowest free range of `length` bytes at or above `start`, or -1. */
export function vm_map_findspace(map: vm_map, start: number, length: number): number {
  let addr = Math.max(start, map.min_offset, VM_MMAP_BASE);
  for (const e of map.entries) {
    if (e.end <= addr) continue;
    if (addr + length <= e.start) break;
    addr = e.end;
  }
  return addr + length <= map.max_offset ? addr : -1;
}

/** vm_map_insert: a new entry over [start, end); the map takes the object reference. */
export function vm_map_insert(map: vm_map, object: vm_object | null, offset: number, start: number, end: number, prot: number, max: number, eflags: number): vm_map_entry {
  if (start % PAGE_SIZE !== 0 || end % PAGE_SIZE !== 0 || end <= start) panic(`vm_map_insert: bad range 0x${start.toString(16)}-0x${end.toString(16)}`);
  let i = 0;
  while (i < map.entries.length && map.entries[i].start < start) i++;
  if ((i > 0 && map.entries[i - 1].end > start) || (i < map.entries.length && map.entries[i].start < end))
    panic(`vm_map_insert: 0x${start.toString(16)}-0x${end.toString(16)} overlaps an entry`);
  const e = new vm_map_entry(start, end, object, offset, prot, max, eflags);
  map.entries.splice(i, 0, e);
  return e;
}

/**
 * vm_map_delete: remove [start, end), clipping entries that straddle it. Pages are
 * unmapped from the pmap; object references of entries removed whole are dropped.
 * (Clipped objects keep one reference shared by the pieces.)
 */
export async function vm_map_delete(k: kernel, vs: vmspace, start: number, end: number): Promise<void> {
  const map = vs.vm_map;
  const keep: vm_map_entry[] = [];
  const dead: vm_map_entry[] = [];
  for (const e of map.entries) {
    if (e.end <= start || e.start >= end) {
      keep.push(e);
      continue;
    }
    const pieces: vm_map_entry[] = [];
    if (e.start < start) pieces.push(new vm_map_entry(e.start, start, e.object, e.offset, e.protection, e.max_protection, e.eflags));
    if (e.end > end) pieces.push(new vm_map_entry(end, e.end, e.object, e.offset + (end - e.start), e.protection, e.max_protection, e.eflags));
    if (pieces.length === 0) dead.push(e);
    // A piece keeps the entry's object reference; a second piece needs its own.
    if (pieces.length === 2 && e.object !== null) vm_object_reference(e.object);
    keep.push(...pieces);
  }
  pmap_remove(vs.vm_pmap, start, end);
  map.entries.length = 0;
  keep.sort((a, b) => a.start - b.start);
  map.entries.push(...keep);
  for (const e of dead) if (e.object !== null) await vm_object_deallocate(k, e.object);
}

/** vmspace_exit/vmspace_free: tear the whole address space down. */
export async function vmspace_free(k: kernel, vs: vmspace): Promise<void> {
  const map = vs.vm_map;
  for (const e of map.entries) pmap_remove(vs.vm_pmap, e.start, e.end);
  const objs = map.entries.map((e) => e.object);
  map.entries.length = 0;
  for (const o of objs) if (o !== null) await vm_object_deallocate(k, o);
  pmap_release(vs.vm_pmap);
}
