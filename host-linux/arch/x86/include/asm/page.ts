// arch/x86/include/asm/page_64.h, page_64_types.h: the direct map of all RAM.
//
// Linux maps every physical frame at PAGE_OFFSET + pa (0xffff888000000000 with 4-level
// paging). Kernel addresses must be JS numbers below 2^53 here, so this model scales
// the base down to PAGE_OFFSET = 0x0010_0000_0000_0000 (2^52): a kernel virtual address
// is never mistaken for a user one (user space ends at TASK_SIZE_MAX < 2^47).

import { PAGE_SIZE, type Hpa, type Kva } from "../../../../../machine/addr.js";

export const PAGE_OFFSET = 0x0010_0000_0000_0000;
/** TASK_SIZE_MAX: the top of user space, one guard page below 2^47. */
export const TASK_SIZE_MAX = 2 ** 47 - PAGE_SIZE;

export const __va_raw = (pa: Hpa): Kva => (PAGE_OFFSET + pa) as Kva;
export const __pa_raw = (va: Kva): Hpa => (va - PAGE_OFFSET) as Hpa;
