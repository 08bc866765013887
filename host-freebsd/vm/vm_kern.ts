// sys/vm/vm_kern.c: kernel virtual memory. kva_alloc/kva_free hand out ranges of the
// kernel map (a first-fit arena, the model's vmem kernel_arena); kmem_malloc backs a
// range with pages allocated one at a time, so a multi-page kernel allocation is
// virtually but NOT physically contiguous (the LinuxKPI kmalloc > PAGE_SIZE caveat).

import { PAGE_SIZE } from "../sys/param.js";
import type { kernel } from "../sys/kernel.js";
import { curkernel } from "../sys/pcpu.js";
import { M_WAITOK, M_ZERO } from "../sys/malloc.js";
import { panic } from "../kern/kern_shutdown.js";
import { VM_MAX_KERNEL_ADDRESS, VM_MIN_KERNEL_ADDRESS } from "../amd64/vmparam.js";
import { pmap_kenter, pmap_kextract, pmap_kremove } from "../amd64/pmap.js";
import { PHYS_TO_VM_PAGE, VM_ALLOC_WIRED, VM_ALLOC_ZERO, vm_page_alloc_noobj_domain, vm_page_unwire_free } from "./vm_page.js";
import { vm_wait } from "./vm_phys.js";
import type { Kva } from "../../machine/addr.js";

export class kmem_arena {
  /** Free ranges [start, size), sorted by start. */
  readonly free: [number, number][] = [[VM_MIN_KERNEL_ADDRESS, VM_MAX_KERNEL_ADDRESS - VM_MIN_KERNEL_ADDRESS]];
}

/** kva_alloc: reserve `size` bytes (page multiple) of kernel virtual space, or 0. */
export function kva_alloc(k: kernel, size: number): number {
  const fl = k.kernel_arena.free;
  for (let i = 0; i < fl.length; i++) {
    const [start, len] = fl[i];
    if (len < size) continue;
    if (len === size) fl.splice(i, 1);
    else fl[i] = [start + size, len - size];
    return start;
  }
  return 0;
}

export function kva_free(k: kernel, addr: number, size: number): void {
  const fl = k.kernel_arena.free;
  let i = 0;
  while (i < fl.length && fl[i][0] < addr) i++;
  fl.splice(i, 0, [addr, size]);
  // Coalesce with the neighbours.
  if (i + 1 < fl.length && fl[i][0] + fl[i][1] === fl[i + 1][0]) {
    fl[i][1] += fl[i + 1][1];
    fl.splice(i + 1, 1);
  }
  if (i > 0 && fl[i - 1][0] + fl[i - 1][1] === fl[i][0]) {
    fl[i - 1][1] += fl[i][1];
    fl.splice(i, 1);
  }
}

/** kmem_malloc: `size` bytes of wired kernel memory in the kernel map. With M_WAITOK
 *  sleeps for memory; with M_NOWAIT returns 0 when short. */
export async function kmem_malloc(size: number, flags: number): Promise<Kva | 0> {
  const k = curkernel();
  const npages = Math.ceil(size / PAGE_SIZE);
  const addr = kva_alloc(k, npages * PAGE_SIZE);
  if (addr === 0) panic(`kmem_malloc(${size}): kernel map exhausted`);
  const req = VM_ALLOC_WIRED | (flags & M_ZERO ? VM_ALLOC_ZERO : 0);
  for (let i = 0; i < npages; i++) {
    let m = vm_page_alloc_noobj_domain(k, 0, req);
    while (m === null && (flags & M_WAITOK) !== 0) {
      await vm_wait(k);
      m = vm_page_alloc_noobj_domain(k, 0, req);
    }
    if (m === null) {
      kmem_unback(k, addr, i * PAGE_SIZE);
      kva_free(k, addr, npages * PAGE_SIZE);
      return 0;
    }
    pmap_kenter(k, addr + i * PAGE_SIZE, m.phys_addr);
  }
  return addr as Kva;
}

function kmem_unback(k: kernel, addr: number, size: number): void {
  for (let va = addr; va < addr + size; va += PAGE_SIZE) {
    const pa = pmap_kextract(k, va);
    if (pa === null) panic(`kmem_unback: 0x${va.toString(16)} not mapped`);
    pmap_kremove(k, va);
    vm_page_unwire_free(k, PHYS_TO_VM_PAGE(k, pa)!);
  }
}

/** kmem_free: give back what kmem_malloc returned. */
export function kmem_free(k: kernel, addr: number, size: number): void {
  const len = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  kmem_unback(k, addr, len);
  kva_free(k, addr, len);
}
