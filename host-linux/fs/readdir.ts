// fs/readdir.c: getdents64(2) over a directory's iterate_shared, and fs/libfs.c's
// dcache_readdir for in-memory directories (debugfs): ".", "..", then the children in
// creation order; f_pos is the index of the next entry.

import type { Uva } from "../../machine/addr.js";
import type { linux_kernel } from "../init/main.js";
import { EBADF, EFAULT, EINVAL, EISDIR, ENOTDIR } from "../include/linux/errno.js";
import type { file_operations } from "../include/linux/fs_types.js";
import { access_ok, copy_to_user } from "../lib/usercopy.js";
import { type file, fget, fput } from "./file_table.js";
import { S_IFMT, S_IFDIR, S_IFCHR, S_IFREG, type inode } from "./inode.js";

// d_type (include/linux/fs_types.h)
export const DT_UNKNOWN = 0;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_REG = 8;

export function fs_umode_to_dtype(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return DT_DIR;
    case S_IFCHR:
      return DT_CHR;
    case S_IFREG:
      return DT_REG;
    default:
      return DT_UNKNOWN;
  }
}

export interface dir_context {
  pos: number;
  /** filldir: false when the caller's buffer is full (the entry was not taken). */
  actor(name: string, ino: number, d_type: number): boolean;
}

/** The kernel side of a directory's file_operations. */
export interface dir_operations extends file_operations {
  iterate_shared(f: file, ctx: dir_context): Promise<number>;
}

/** What dcache_readdir needs to know of a directory. */
export interface dcache_dir {
  readonly ino: number;
  readonly parent_ino: number;
  children(): Iterable<[string, inode]>;
}

/** simple_dir_operations: read is EISDIR; getdents lists the directory. */
export function dcache_dir_fops(_k: linux_kernel, dir: () => dcache_dir): dir_operations {
  return {
    read: async () => -EISDIR,
    async iterate_shared(_f, ctx) {
      const d = dir();
      const all: [string, number, number][] = [[".", d.ino, DT_DIR], ["..", d.parent_ino, DT_DIR]];
      for (const [name, ino] of d.children()) all.push([name, ino.i_ino, fs_umode_to_dtype(ino.i_mode)]);
      while (ctx.pos < all.length) {
        const [name, ino, type] = all[ctx.pos];
        if (!ctx.actor(name, ino, type)) break;
        ctx.pos++;
      }
      return 0;
    },
  };
}

const is_dir_ops = (f: file_operations): f is dir_operations => typeof (f as Partial<dir_operations>).iterate_shared === "function";

/** getdents64: struct linux_dirent64 { u64 d_ino; s64 d_off; unsigned short d_reclen;
 *  unsigned char d_type; char d_name[]; } records, each 8-byte aligned; the bytes
 *  filled, 0 at the end, -EINVAL when not even one entry fits. */
export async function sys_getdents64(k: linux_kernel, fd: number, dirent: Uva, count: number): Promise<number> {
  const f = fget(k, fd);
  if (f === null) return -EBADF;
  try {
    if (!is_dir_ops(f.f_op)) return -ENOTDIR;
    if (!access_ok(dirent, count)) return -EFAULT;
    const out = new Uint8Array(Math.max(0, Math.min(count, 1 << 20)));
    const dv = new DataView(out.buffer);
    let used = 0;
    let too_small = false;
    const ctx: dir_context = {
      pos: f.f_pos,
      actor(name, ino, d_type) {
        const nb = new TextEncoder().encode(name);
        const reclen = (19 + nb.length + 1 + 7) & ~7;
        if (used + reclen > out.length) {
          if (used === 0) too_small = true;
          return false;
        }
        dv.setBigUint64(used, BigInt(ino), true);
        dv.setBigInt64(used + 8, BigInt(ctx.pos + 1), true);
        dv.setUint16(used + 16, reclen, true);
        out[used + 18] = d_type;
        out.set(nb, used + 19);
        out.fill(0, used + 19 + nb.length, used + reclen);
        used += reclen;
        return true;
      },
    };
    const err = await f.f_op.iterate_shared(f, ctx);
    if (err < 0) return err;
    if (too_small) return -EINVAL;
    if (used > 0 && (await copy_to_user(k, dirent, out, used)) !== 0) return -EFAULT;
    f.f_pos = ctx.pos;
    return used;
  } finally {
    await fput(k, f);
  }
}
