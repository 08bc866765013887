// drivers/char/mem.c: the memory devices on major 1; this model has /dev/null (minor 3):
// reads return end of file, writes succeed and are discarded, and it has no ioctl.

import type { linux_kernel } from "../../init/main.js";
import { ENXIO } from "../../include/linux/errno.js";
import type { file_operations, inode as module_inode, file as module_file } from "../../include/linux/fs_types.js";
import { MINOR, MKDEV } from "../../fs/inode.js";
import type { file } from "../../fs/file_table.js";
import { register_chrdev } from "../../fs/char_dev.js";
import { devtmpfs_create_node } from "../../fs/devtmpfs.js";

export const MEM_MAJOR = 1;
const NULL_MINOR = 3;

export const null_fops: file_operations = {
  read: async () => 0,
  write: async (_filp, _buf, count) => count,
  llseek: async () => 0,
};

export function chr_dev_init(k: linux_kernel): void {
  const devlist = new Map<number, file_operations>([[NULL_MINOR, null_fops]]);
  const memory_fops: file_operations = {
    open: async (ino: module_inode, filp: module_file) => {
      const fops = devlist.get(MINOR(ino.i_rdev));
      if (fops === undefined) return -ENXIO;
      (filp as file).f_op = fops;
      return fops.open !== undefined ? fops.open(ino, filp) : 0;
    },
  };
  register_chrdev(k, MEM_MAJOR, "mem", memory_fops);
  devtmpfs_create_node(k, "null", MKDEV(MEM_MAJOR, NULL_MINOR));
}
