// fs/libfs.c: simple_read_from_buffer and the simple attribute files
// (simple_attr_open/read/write, what DEFINE_SIMPLE_ATTRIBUTE expands to).
//
// The first read (at offset 0) calls get() and formats the value into the open file's
// buffer; reads at a later offset continue from that buffer, so a short read followed
// by another returns the rest, and a read past the end returns 0 (end of file). Seeking
// back to 0 samples the value afresh.

import type { Uva } from "../../machine/addr.js";
import type { linux_kernel } from "../init/main.js";
import { EACCES, EFAULT, EINVAL, EIO } from "../include/linux/errno.js";
import type { simple_attribute } from "../include/linux/debugfs_types.js";
import type { file_operations, file as module_file } from "../include/linux/fs_types.js";
import { copy_from_user, copy_to_user } from "../lib/usercopy.js";
import type { file } from "./file_table.js";

/** The formats simple_attr supports: the printf conversions of a u64/s64. */
export const SIMPLE_ATTR_FORMATS: Readonly<Record<string, (v: bigint) => string>> = {
  "%llu\n": (v) => `${BigInt.asUintN(64, v)}\n`,
  "%lld\n": (v) => `${BigInt.asIntN(64, v)}\n`,
  "%llx\n": (v) => `${BigInt.asUintN(64, v).toString(16)}\n`,
  "0x%llx\n": (v) => `0x${BigInt.asUintN(64, v).toString(16)}\n`,
  "0x%08llx\n": (v) => `0x${BigInt.asUintN(64, v).toString(16).padStart(8, "0")}\n`,
  "0x%016llx\n": (v) => `0x${BigInt.asUintN(64, v).toString(16).padStart(16, "0")}\n`,
};

/** struct simple_attr: the per-open state. */
interface simple_attr {
  readonly attr: simple_attribute;
  readonly data: unknown;
  get_buf: Uint8Array;
}

/** simple_read_from_buffer: copy from `from` at *ppos; bytes copied, 0 at the end, or
 *  -EFAULT when nothing could be copied. */
export async function simple_read_from_buffer(k: linux_kernel, to: Uva, count: number, f: file, from: Uint8Array): Promise<number> {
  const pos = f.f_pos;
  if (pos < 0) return -EINVAL;
  if (pos >= from.length || count === 0) return 0;
  const n = Math.min(count, from.length - pos);
  const left = await copy_to_user(k, to, from.subarray(pos, pos + n), n);
  if (left === n) return -EFAULT;
  f.f_pos = pos + n - left;
  return n - left;
}

/** strtoull with base 0 (simple_strtoll): the value of the leading digits; "0x" hex,
 *  a leading "0" octal, else decimal; a leading "-" negates. */
export function simple_strtoll(s: string): bigint {
  let i = 0;
  while (i < s.length && /\s/.test(s[i])) i++;
  let neg = false;
  if (s[i] === "-" || s[i] === "+") neg = s[i++] === "-";
  let base = 10;
  if (s[i] === "0" && (s[i + 1] === "x" || s[i + 1] === "X") && /[0-9a-fA-F]/.test(s[i + 2] ?? "")) {
    base = 16;
    i += 2;
  } else if (s[i] === "0") {
    base = 8;
  }
  let v = 0n;
  for (; i < s.length; i++) {
    const d = parseInt(s[i], base);
    if (Number.isNaN(d)) break;
    v = v * BigInt(base) + BigInt(d);
  }
  return BigInt.asIntN(64, neg ? -v : v);
}

/** The file_operations of a simple attribute file (its open attaches the state). */
export function simple_attr_fops(k: linux_kernel, attr: simple_attribute, data: unknown, fmt: (v: bigint) => string, alive: () => boolean): file_operations {
  return {
    open: async (_ino, filp: module_file) => {
      (filp as file).private_data = { attr, data, get_buf: new Uint8Array(0) } satisfies simple_attr;
      return 0;
    },
    read: async (filp, buf, count) => {
      const f = filp as file;
      const a = f.private_data as simple_attr;
      // debugfs_file_get: the file was removed under the open file.
      if (!alive()) return -EIO;
      if (f.f_pos === 0) a.get_buf = new TextEncoder().encode(fmt(BigInt(await a.attr.get(a.data))));
      return simple_read_from_buffer(k, buf, count, f, a.get_buf);
    },
    write: async (filp, buf, count) => {
      const f = filp as file;
      const a = f.private_data as simple_attr;
      if (!alive()) return -EIO;
      if (a.attr.set === undefined) return -EACCES;
      // set_buf is 24 bytes: at most 23 characters are looked at.
      const size = Math.min(23, count);
      const b = new Uint8Array(size);
      if ((await copy_from_user(k, b, buf, size)) !== 0) return -EFAULT;
      const val = simple_strtoll(new TextDecoder().decode(b));
      const ret = await a.attr.set(a.data, val);
      // On success, claim the whole input was taken.
      return ret === 0 ? count : ret;
    },
    llseek: async (filp, offset, whence) => generic_file_llseek(filp as file, offset, whence, 0),
  };
}

export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;

/** generic_file_llseek over f_pos (i_size `size`): the new position or -EINVAL. */
export function generic_file_llseek(f: file, offset: number, whence: number, size: number): number {
  let pos: number;
  switch (whence) {
    case SEEK_SET:
      pos = offset;
      break;
    case SEEK_CUR:
      pos = f.f_pos + offset;
      break;
    case SEEK_END:
      pos = size + offset;
      break;
    default:
      return -EINVAL;
  }
  if (pos < 0) return -EINVAL;
  f.f_pos = pos;
  return pos;
}
