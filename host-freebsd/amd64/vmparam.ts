// sys/amd64/include/vmparam.h: the kernel's address space layout.
//
// Scaled down so every kernel address is a JS number below 2^53 (DESIGN rule): amd64's
// DMAP at 0xfffff80000000000 is modelled as DMAP_MIN_ADDRESS = 0x0018_0000_0000_0000
// (4 GiB long, enough for the machine's RAM), and the kernel map (KVA for malloc of
// large sizes, kva_alloc) at 0x001c_0000_0000_0000. User space is [0, 2^47).

import type { Hpa, Kva } from "../../machine/addr.js";

export const DMAP_MIN_ADDRESS = 0x0018_0000_0000_0000;
export const DMAP_MAX_ADDRESS = DMAP_MIN_ADDRESS + 2 ** 32;
export const VM_MIN_KERNEL_ADDRESS = 0x001c_0000_0000_0000;
export const VM_MAX_KERNEL_ADDRESS = VM_MIN_KERNEL_ADDRESS + 2 ** 40;
export const VM_MIN_ADDRESS = 0;
export const VM_MAXUSER_ADDRESS = 0x0000_8000_0000_0000;
/** Where mmap(2) without a hint starts looking (above LinuxKPI's fake ioctl window). */
export const VM_MMAP_BASE = 0x0000_0008_0000_0000;

export const PHYS_TO_DMAP = (pa: Hpa | number): Kva => (DMAP_MIN_ADDRESS + pa) as Kva;
export const DMAP_TO_PHYS = (va: Kva | number): Hpa => (va - DMAP_MIN_ADDRESS) as Hpa;
export const IS_DMAP = (va: number) => va >= DMAP_MIN_ADDRESS && va < DMAP_MAX_ADDRESS;
export const IS_KERNEL_MAP = (va: number) => va >= VM_MIN_KERNEL_ADDRESS && va < VM_MAX_KERNEL_ADDRESS;
