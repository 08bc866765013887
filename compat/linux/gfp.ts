// include/linux/gfp.h: the page allocator.

import type { Pfn } from "../../machine/addr.js";
import { linux_api } from "./export.js";
import type { gfp_t } from "./gfp_types.js";
import type { page } from "./mm_types.js";

export * from "./gfp_types.js";

export const alloc_pages = (gfp_mask: gfp_t, order: number): Promise<page | null> => linux_api().alloc_pages(gfp_mask, order);
export const alloc_page = (gfp_mask: gfp_t): Promise<page | null> => linux_api().alloc_pages(gfp_mask, 0);
export const __free_pages = (p: page, order: number): void => linux_api().__free_pages(p, order);
export const __free_page = (p: page): void => linux_api().__free_pages(p, 0);
export const page_to_pfn = (p: page): Pfn => linux_api().page_to_pfn(p);
export const pfn_to_page = (pfn: Pfn): page => linux_api().pfn_to_page(pfn);
