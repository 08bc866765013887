// drivers/char/misc.c: misc devices on major 10. misc_register takes the requested
// minor (EBUSY if taken) or, for MISC_DYNAMIC_MINOR, the highest free one of the 64
// dynamic minors, and creates /dev/<name>. Opening the node finds the device by minor,
// takes a reference on its driver's module (fops->owner), points file->private_data at
// the miscdevice, switches the file to the driver's operations and calls its ->open.

import type { linux_kernel } from "../../init/main.js";
import { EBUSY, ENODEV } from "../../include/linux/errno.js";
import type { file_operations, inode as module_inode, file as module_file } from "../../include/linux/fs_types.js";
import { MISC_DYNAMIC_MINOR, MISC_MAJOR, type miscdevice } from "../../include/linux/miscdevice_types.js";
import { MINOR, MKDEV } from "../../fs/inode.js";
import type { file } from "../../fs/file_table.js";
import { register_chrdev } from "../../fs/char_dev.js";
import { devtmpfs_create_node, devtmpfs_delete_node } from "../../fs/devtmpfs.js";
import { fops_get, fops_put } from "../../kernel/module/main.js";
import { WARN } from "../../kernel/panic.js";
import { might_sleep } from "../../kernel/sched/might_sleep.js";

const DYNAMIC_MINORS = 64;

async function misc_open(k: linux_kernel, ino: module_inode, filp: module_file): Promise<number> {
  const minor = MINOR(ino.i_rdev);
  const c = k.misc_list.find((m) => m.minor === minor);
  if (c === undefined) return -ENODEV;
  const new_fops = fops_get(k, c.fops);
  if (new_fops === null) return -ENODEV;
  const f = filp as file;
  f.private_data = c;
  // replace_fops
  fops_put(k, f.f_op);
  f.f_op = new_fops;
  if (new_fops.open !== undefined) return new_fops.open(ino, filp);
  return 0;
}

export function misc_init(k: linux_kernel): void {
  const misc_fops: file_operations = { open: (ino, filp) => misc_open(k, ino, filp) };
  register_chrdev(k, MISC_MAJOR, "misc", misc_fops);
}

export async function misc_register(k: linux_kernel, misc: miscdevice): Promise<number> {
  might_sleep(k, "drivers/char/misc.c:misc_register");
  if (misc.minor === MISC_DYNAMIC_MINOR) {
    let i = 0;
    while (i < DYNAMIC_MINORS && k.misc_list.some((m) => m.minor === DYNAMIC_MINORS - i - 1)) i++;
    if (i >= DYNAMIC_MINORS) return -EBUSY;
    misc.minor = DYNAMIC_MINORS - i - 1;
  } else if (k.misc_list.some((m) => m.minor === misc.minor)) {
    return -EBUSY;
  }
  const err = devtmpfs_create_node(k, misc.name, MKDEV(MISC_MAJOR, misc.minor));
  if (err < 0) return err;
  k.misc_list.unshift(misc);
  return 0;
}

export async function misc_deregister(k: linux_kernel, misc: miscdevice): Promise<void> {
  might_sleep(k, "drivers/char/misc.c:misc_deregister");
  const i = k.misc_list.indexOf(misc);
  if (i < 0) {
    WARN(k, "drivers/char/misc.c misc_deregister", `WARN_ON(list_empty(&misc->list)): ${misc.name} is not registered`);
    return;
  }
  k.misc_list.splice(i, 1);
  devtmpfs_delete_node(k, misc.name);
}
