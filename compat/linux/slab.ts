// include/linux/slab.h: kmalloc and friends.

import type { Kva } from "../../machine/addr.js";
import { linux_api } from "./export.js";
import { __GFP_ZERO, type gfp_t } from "./gfp_types.js";

export const kmalloc = (size: number, flags: gfp_t): Promise<Kva | null> => linux_api().kmalloc(size, flags);
export const kzalloc = (size: number, flags: gfp_t): Promise<Kva | null> => linux_api().kmalloc(size, flags | __GFP_ZERO);
export const kcalloc = (n: number, size: number, flags: gfp_t): Promise<Kva | null> =>
  n !== 0 && size > Number.MAX_SAFE_INTEGER / n ? Promise.resolve(null) : kzalloc(n * size, flags);
export const kfree = (addr: Kva | null): void => linux_api().kfree(addr);
export const ksize = (addr: Kva): number => linux_api().ksize(addr);
