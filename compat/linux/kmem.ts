// Kernel memory access: what `*p` and `p->field` compile to in C. Loads and stores go
// through the kernel's page tables (linux_kernel_api.kmem_load/kmem_store); these
// helpers give them the widths C has. Little-endian, as x86.

import type { Kva } from "../../machine/addr.js";
import { linux_api } from "./export.js";

const scratch = new Uint8Array(8);
const view = new DataView(scratch.buffer);

export function kread(addr: Kva, n: number): Uint8Array {
  const b = new Uint8Array(n);
  linux_api().kmem_load(addr, b);
  return b;
}
export const kwrite = (addr: Kva, src: Uint8Array): void => linux_api().kmem_store(addr, src);

export function kread8(addr: Kva): number {
  linux_api().kmem_load(addr, scratch.subarray(0, 1));
  return scratch[0];
}
export function kread16(addr: Kva): number {
  linux_api().kmem_load(addr, scratch.subarray(0, 2));
  return view.getUint16(0, true);
}
export function kread32(addr: Kva): number {
  linux_api().kmem_load(addr, scratch.subarray(0, 4));
  return view.getUint32(0, true);
}
export function kread64(addr: Kva): bigint {
  linux_api().kmem_load(addr, scratch);
  return view.getBigUint64(0, true);
}
export function kwrite8(addr: Kva, v: number): void {
  scratch[0] = v;
  linux_api().kmem_store(addr, scratch.subarray(0, 1));
}
export function kwrite16(addr: Kva, v: number): void {
  view.setUint16(0, v, true);
  linux_api().kmem_store(addr, scratch.subarray(0, 2));
}
export function kwrite32(addr: Kva, v: number): void {
  view.setUint32(0, v >>> 0, true);
  linux_api().kmem_store(addr, scratch.subarray(0, 4));
}
export function kwrite64(addr: Kva, v: bigint): void {
  view.setBigUint64(0, BigInt.asUintN(64, v), true);
  linux_api().kmem_store(addr, scratch);
}
