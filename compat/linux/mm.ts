// include/linux/mm.h: page addresses, user page pinning, mapping a file from the kernel.

import type { Hpa, Kva, Uva } from "../../machine/addr.js";
import { linux_api } from "./export.js";
import type { file } from "./fs_types.js";
import type { page } from "./mm_types.js";

export * from "./mm_types.js";

export const page_address = (p: page): Kva => linux_api().page_address(p);
export const virt_to_page = (addr: Kva): page => linux_api().virt_to_page(addr);
/** __pa / __va: the kernel's direct map (amd64's DMAP on FreeBSD). */
export const __pa = (addr: Kva): Hpa => linux_api().__pa(addr);
export const __va = (addr: Hpa): Kva => linux_api().__va(addr);
export const get_user_pages_fast = (start: Uva, nr_pages: number, write: boolean, pages: page[]): Promise<number> =>
  linux_api().get_user_pages_fast(start, nr_pages, write, pages);
export const put_page = (p: page): void => linux_api().put_page(p);
/** vm_mmap: the user address of the new mapping of `file`, or -errno. */
export const vm_mmap = (f: file, addr: number, len: number, prot: number, flag: number, offset: number): Promise<number> =>
  linux_api().vm_mmap(f, addr, len, prot, flag, offset);
export const vm_munmap = (start: Uva, len: number): Promise<number> => linux_api().vm_munmap(start, len);
