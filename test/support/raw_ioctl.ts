// Raw ioctl helpers for the API tests that speak to KVM without userspace/lib/kvm.ts,
// as kvm-ioctls' and the kernel selftests' own checks do.

import type { Uva } from "../../machine/addr.js";
import type { Libc } from "../../userspace/libc/libc.js";

/** An ioctl's result as a number, or the errno name. */
export async function r(c: Libc, fd: number, def: Parameters<Libc["ioctl"]>[1], arg: number | bigint = 0): Promise<number | string> {
  const v = await c.ioctl(fd, def, arg);
  return v === -1 ? c.errname() : v;
}

/** A struct argument encoded into freshly malloc'ed user memory. */
export async function struct_arg<T>(c: Libc, layout: { span: number; encode(v: T, b: Uint8Array, o?: number): number }, v: T): Promise<Uva> {
  const p = (await c.malloc(layout.span))!;
  const b = new Uint8Array(layout.span);
  layout.encode(v, b, 0);
  c.poke(p, b);
  return p;
}
