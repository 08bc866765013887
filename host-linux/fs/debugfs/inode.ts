// fs/debugfs/inode.c: debugfs, mounted at /sys/kernel/debug. Modules create
// directories and simple attribute files in it (kvm's statistics, which kvm_stat
// reads) and remove them when they go.
//
// As in Linux 2.6.22, the create functions return NULL on failure (a name that exists,
// a bad name, a parent that is not a directory or was removed); a NULL parent means the
// debugfs root. Removing a tree while a file of it is open makes that file's reads and
// writes fail with EIO (debugfs_file_get), so no read reaches a module that has gone.
//
// Locking: the tree is edited only by synchronous code (the inode lock is implicit).

import type { linux_kernel } from "../../init/main.js";
import { ENOENT, ENOTDIR } from "../../include/linux/errno.js";
import type { dentry as module_dentry, simple_attribute } from "../../include/linux/debugfs_types.js";
import { KERN_WARNING, printk } from "../../kernel/printk/printk.js";
import { might_sleep } from "../../kernel/sched/might_sleep.js";
import { S_IFDIR, S_IFMT, S_IFREG, S_ISDIR, inode } from "../inode.js";
import { SIMPLE_ATTR_FORMATS, simple_attr_fops } from "../libfs.js";
import { type dcache_dir, dcache_dir_fops } from "../readdir.js";

/** The kernel's struct dentry of a debugfs name. */
export class dentry implements module_dentry {
  /** Children by name, in creation order (d_subdirs). */
  readonly d_subdirs = new Map<string, dentry>();
  /** Unlinked: no longer reachable, and its open files fail. */
  removed = false;

  constructor(
    readonly d_name: string,
    readonly d_parent: dentry | null,
    readonly d_inode: inode,
  ) {}
}

/** Where debugfs is mounted. */
export const DEBUGFS_MOUNTPOINT = "/sys/kernel/debug";

/** A directory dentry with libfs's directory operations. */
function new_dir(k: linux_kernel, name: string, parent: dentry | null, mode: number): dentry {
  let d!: dentry;
  const view = (): dcache_dir => ({ ino: d.d_inode.i_ino, parent_ino: (d.d_parent ?? d).d_inode.i_ino, children: () => [...d.d_subdirs].map(([n, c]) => [n, c.d_inode]) });
  d = new dentry(name, parent, new inode(k.last_ino++, S_IFDIR | mode, 0, dcache_dir_fops(k, view)));
  return d;
}

/** debugfs_init: the root directory. */
export function debugfs_init(k: linux_kernel): dentry {
  return new_dir(k, "", null, 0o700);
}

function valid_name(name: string): boolean {
  return typeof name === "string" && name.length > 0 && name.length <= 255 && !name.includes("/") && name !== "." && name !== "..";
}

/** debugfs_create_dentry's checks; the parent directory or null (after a warning). */
function start_creating(k: linux_kernel, name: string, parent: module_dentry | null): dentry | null {
  might_sleep(k, "fs/debugfs/inode.c:start_creating");
  const dir = parent === null ? k.debugfs_root : parent;
  if (!(dir instanceof dentry) || dir.removed || !S_ISDIR(dir.d_inode.i_mode)) {
    printk(k, KERN_WARNING, `debugfs: Directory '${name}' with parent '${parent?.d_name ?? "/"}' cannot be used`);
    return null;
  }
  if (!valid_name(name)) {
    printk(k, KERN_WARNING, `debugfs: Bad name '${name}'`);
    return null;
  }
  if (dir.d_subdirs.has(name)) {
    printk(k, KERN_WARNING, `debugfs: File '${name}' in directory '${dir.d_name || "/"}' already present!`);
    return null;
  }
  return dir;
}

export function debugfs_create_dir(k: linux_kernel, name: string, parent: module_dentry | null): dentry | null {
  const dir = start_creating(k, name, parent);
  if (dir === null) return null;
  const d = new_dir(k, name, dir, 0o755);
  dir.d_subdirs.set(name, d);
  return d;
}

/** debugfs_create_file with DEFINE_SIMPLE_ATTRIBUTE operations; `data` becomes the
 *  inode's i_private and is what get/set receive. */
export function debugfs_create_file(k: linux_kernel, name: string, mode: number, parent: module_dentry | null, data: unknown, fops: simple_attribute): dentry | null {
  const dir = start_creating(k, name, parent);
  if (dir === null) return null;
  const fmt = SIMPLE_ATTR_FORMATS[fops.fmt ?? "%llu\n"];
  if (fmt === undefined || typeof fops.get !== "function") {
    printk(k, KERN_WARNING, `debugfs: '${name}': simple attribute format ${JSON.stringify(fops.fmt)} not implemented in this model`);
    return null;
  }
  if ((mode & S_IFMT) === 0) mode |= S_IFREG;
  let d: dentry | null = null;
  const ino = new inode(k.last_ino++, mode, 0, simple_attr_fops(k, fops, data, fmt, () => d !== null && !d.removed));
  ino.i_private = data;
  d = new dentry(name, dir, ino);
  dir.d_subdirs.set(name, d);
  return d;
}

/** debugfs_remove_recursive: unlink a dentry and everything below it (NULL: nothing). */
export function debugfs_remove_recursive(k: linux_kernel, d: module_dentry | null): void {
  if (d === null) return;
  might_sleep(k, "fs/debugfs/inode.c:debugfs_remove_recursive");
  if (!(d instanceof dentry) || d === k.debugfs_root || d.removed) return;
  const kill = (x: dentry): void => {
    for (const c of x.d_subdirs.values()) kill(c);
    x.d_subdirs.clear();
    x.removed = true;
  };
  d.d_parent?.d_subdirs.delete(d.d_name);
  kill(d);
}

/** Path walk below the mount point: the inode at `components`, or -errno. */
export function debugfs_lookup(k: linux_kernel, components: readonly string[]): inode | number {
  let d: dentry = k.debugfs_root;
  for (const c of components) {
    if (!S_ISDIR(d.d_inode.i_mode)) return -ENOTDIR;
    const next = d.d_subdirs.get(c);
    if (next === undefined) return -ENOENT;
    d = next;
  }
  return d.d_inode;
}
