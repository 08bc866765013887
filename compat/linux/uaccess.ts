// include/linux/uaccess.h. Both copies return the number of bytes NOT copied: 0 on
// success; callers turn a non-zero result into -EFAULT.

import type { Uva } from "../../machine/addr.js";
import { linux_api } from "./export.js";

export const copy_to_user = (to: Uva, from: Uint8Array, n: number = from.length): Promise<number> =>
  linux_api().copy_to_user(to, from, n);
export const copy_from_user = (to: Uint8Array, from: Uva, n: number = to.length): Promise<number> =>
  linux_api().copy_from_user(to, from, n);
