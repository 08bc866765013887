// sys/kern/kern_malloc.c and vm/uma_core.c, reduced: malloc(9)/free(9).
//
// Sizes up to PAGE_SIZE come from power-of-two zones (kmemzones: 16 .. 4096 bytes)
// whose slabs are single pages reached through the DMAP; a slab whose items are all
// free goes straight back to vm_phys (the model keeps no UMA caches, so leak checks
// can compare free page counts). Larger sizes go to malloc_large -> kmem_malloc in the
// kernel map: virtually contiguous, physically not.
//
// Flag rules, as FreeBSD enforces them (INVARIANTS + WITNESS):
//  - exactly one of M_WAITOK and M_NOWAIT, or panic;
//  - M_WAITOK may sleep: in an interrupt handler, in a critical section, or with a
//    non-sleepable lock (any mutex) held it panics;
//  - any malloc or free inside a critical section (spin mutex held, critical_enter)
//    panics, as uma_zalloc_arg/uma_zfree_arg assert;
//  - M_NOWAIT returns null when memory is exhausted; M_ZERO zeroes.

import type { Kva } from "../../machine/addr.js";
import { PAGE_SIZE } from "../sys/param.js";
import { curkernel, curthread } from "../sys/pcpu.js";
import type { kernel } from "../sys/kernel.js";
import { M_NOWAIT, M_WAITOK, M_ZERO, M_USE_RESERVE, M_NODUMP, M_EXEC, type malloc_type } from "../sys/malloc.js";
import { panic } from "./kern_shutdown.js";
import { witness_warn_sleep } from "./subr_witness.js";
import { PHYS_TO_DMAP, DMAP_TO_PHYS } from "../amd64/vmparam.js";
import { PHYS_TO_VM_PAGE, VM_ALLOC_WIRED, vm_page_alloc_noobj_domain, vm_page_unwire_free } from "../vm/vm_page.js";
import { vm_wait } from "../vm/vm_phys.js";
import { kmem_free, kmem_malloc } from "../vm/vm_kern.js";

const KMEM_ZSHIFT = 4;
const KMEM_ZMAX = PAGE_SIZE;

interface slab {
  readonly zone: number;
  readonly base: number;
  readonly free: number[];
  inuse: number;
}

interface allocation {
  readonly size: number;
  readonly type: malloc_type;
  /** Usable size: the zone's item size, or the page-rounded size of a large one. */
  readonly usable: number;
  readonly large: boolean;
}

export class malloc_state {
  /** Per zone size: slabs with free items. */
  readonly partial = new Map<number, slab[]>();
  /** Slab by base address (vtoslab). */
  readonly slabs = new Map<number, slab>();
  /** Live allocations by address. */
  readonly live = new Map<number, allocation>();
}

function zone_size(size: number): number {
  let z = 1 << KMEM_ZSHIFT;
  while (z < size) z <<= 1;
  return z;
}

const KNOWN = M_NOWAIT | M_WAITOK | M_ZERO | M_USE_RESERVE | M_NODUMP | M_EXEC;

function malloc_checks(flags: number, what: string): void {
  const td = curthread();
  if ((flags & ~KNOWN) !== 0) panic(`${what}: unsupported malloc flags 0x${(flags & ~KNOWN).toString(16)}`);
  const indx = flags & (M_WAITOK | M_NOWAIT);
  if (indx !== M_NOWAIT && indx !== M_WAITOK) panic(`Bad malloc flags: 0x${indx.toString(16)} (exactly one of M_WAITOK, M_NOWAIT)`);
  if (td.td_critnest > 0) panic(`${what}: called with spinlock or critical section held (thread ${td.td_name}, td_critnest ${td.td_critnest})`);
  if (flags & M_WAITOK) witness_warn_sleep(`${what}(M_WAITOK)`);
}

/** malloc(9): `size` bytes of kernel memory, or null (only with M_NOWAIT). */
export async function malloc(size: number, type: malloc_type, flags: number): Promise<Kva | null> {
  malloc_checks(flags, "malloc");
  const k = curkernel();
  if (!Number.isInteger(size) || size < 0) panic(`malloc: bad size ${size}`);
  const ms = k.malloc;
  let addr: number;
  let usable: number;
  let large = false;
  if (size > KMEM_ZMAX) {
    const va = await kmem_malloc(size, flags & (M_WAITOK | M_NOWAIT | M_ZERO));
    if (va === 0) return null;
    addr = va;
    usable = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    large = true;
  } else {
    const z = zone_size(Math.max(size, 1));
    let list = ms.partial.get(z);
    if (list === undefined) ms.partial.set(z, (list = []));
    if (list.length === 0) {
      let m = vm_page_alloc_noobj_domain(k, 0, VM_ALLOC_WIRED);
      while (m === null && (flags & M_WAITOK) !== 0) {
        await vm_wait(k);
        m = vm_page_alloc_noobj_domain(k, 0, VM_ALLOC_WIRED);
      }
      if (m === null) return null;
      const base = PHYS_TO_DMAP(m.phys_addr);
      const free: number[] = [];
      for (let off = PAGE_SIZE - z; off >= 0; off -= z) free.push(base + off);
      const sl: slab = { zone: z, base, free, inuse: 0 };
      ms.slabs.set(base, sl);
      list.push(sl);
    }
    const sl = list[0];
    addr = sl.free.pop()!;
    sl.inuse++;
    if (sl.free.length === 0) list.shift();
    usable = z;
    if (flags & M_ZERO) k.machine.ram.fill(DMAP_TO_PHYS(addr), z, 0);
  }
  ms.live.set(addr, { size, type, usable, large });
  type.ks_calls++;
  type.ks_inuse++;
  type.ks_memuse += usable;
  return addr as Kva;
}

/** free(9). Freeing an address malloc did not return panics. */
export function free(addr: Kva | null, type: malloc_type): void {
  if (addr === null || addr === 0) return;
  const k = curkernel();
  const td = curthread();
  if (td.td_critnest > 0) panic(`free: called with spinlock or critical section held (thread ${td.td_name}, td_critnest ${td.td_critnest})`);
  kfree_internal(k, addr, type);
}

function kfree_internal(k: kernel, addr: number, type: malloc_type): void {
  const ms = k.malloc;
  const a = ms.live.get(addr);
  if (a === undefined) panic(`free: address 0x${addr.toString(16)} was not allocated by malloc (double free?)`);
  if (a.type !== type) panic(`free: type mismatch for 0x${addr.toString(16)}: allocated as ${a.type.ks_shortdesc}, freed as ${type.ks_shortdesc}`);
  ms.live.delete(addr);
  type.ks_inuse--;
  type.ks_memuse -= a.usable;
  if (a.large) {
    kmem_free(k, addr, a.usable);
    return;
  }
  const base = addr - (addr % PAGE_SIZE);
  const sl = ms.slabs.get(base)!;
  const list = ms.partial.get(sl.zone)!;
  if (sl.free.length === 0) list.push(sl);
  sl.free.push(addr);
  sl.inuse--;
  if (sl.inuse === 0) {
    list.splice(list.indexOf(sl), 1);
    ms.slabs.delete(base);
    vm_page_unwire_free(k, PHYS_TO_VM_PAGE(k, DMAP_TO_PHYS(base))!);
  }
}

/** malloc_usable_size(9). */
export function malloc_usable_size(addr: Kva): number {
  const a = curkernel().malloc.live.get(addr);
  if (a === undefined) panic(`malloc_usable_size: 0x${addr.toString(16)} not allocated`);
  return a.usable;
}

/** The malloc'ed object containing addr, if any (for debugging checks). */
export function malloc_lookup(k: kernel, addr: number): { base: number; size: number } | null {
  const a = k.malloc.live.get(addr);
  return a === undefined ? null : { base: addr, size: a.size };
}
