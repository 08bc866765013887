// include/linux/miscdevice.h.

import { linux_api } from "./export.js";
import type { miscdevice } from "./miscdevice_types.js";

export * from "./miscdevice_types.js";

export const misc_register = (misc: miscdevice): Promise<number> => linux_api().misc_register(misc);
export const misc_deregister = (misc: miscdevice): Promise<void> => linux_api().misc_deregister(misc);
