// include/linux/miscdevice.h: struct miscdevice.

import type { file_operations } from "./fs_types.js";

export const MISC_MAJOR = 10;
export const MISC_DYNAMIC_MINOR = 255;
export const KVM_MINOR = 232;

export interface miscdevice {
  minor: number;
  readonly name: string;
  readonly fops: file_operations;
  /** Permission bits of the device node. */
  readonly mode?: number;
}
