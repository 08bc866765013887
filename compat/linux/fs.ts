// include/linux/fs.h, include/linux/file.h.

import { linux_api } from "./export.js";
import type { file, inode } from "./fs_types.js";

export * from "./fs_types.js";

export const fget = (fd: number): file | null => linux_api().fget(fd);
export const fput = (f: file): Promise<void> => linux_api().fput(f);
export const file_inode = (f: file): inode => linux_api().file_inode(f);
