// include/linux/string.h over kernel addresses.

import type { Kva } from "../../machine/addr.js";
import { linux_api } from "./export.js";

export function memset(s: Kva, c: number, n: number): void {
  linux_api().kmem_store(s, new Uint8Array(n).fill(c & 0xff));
}

export function memcpy(dst: Kva, src: Kva, n: number): void {
  const b = new Uint8Array(n);
  linux_api().kmem_load(src, b);
  linux_api().kmem_store(dst, b);
}
