// The two system-call personalities a test program can be built for: FreeBSD (carry +
// positive errno, sys/ioccom.h command encoding) and Linux (-errno in rax,
// asm-generic/ioctl.h encoding). The program itself is the same source.

import { syscall, user_load, user_store } from "../../machine/syscall.js";
import { linux_ioctl, type IoctlDef } from "../../include/uapi/asm-generic/ioctl.js";
import { freebsd_ioctl } from "../../host-freebsd/sys/ioccom.js";

export interface os {
  readonly name: "freebsd" | "linux";
  readonly nr: { read: number; write: number; open: number; close: number; ioctl: number; mmap: number; munmap: number; getpid: number };
  readonly O_RDWR: number;
  readonly PROT_READ: number;
  readonly PROT_WRITE: number;
  readonly MAP_SHARED: number;
  readonly MAP_PRIVATE: number;
  readonly MAP_ANON: number;
  ioctl_cmd(d: IoctlDef): number;
  readonly errnames: Record<number, string>;
}

export const freebsd_os: os = {
  name: "freebsd",
  nr: { read: 3, write: 4, open: 5, close: 6, ioctl: 54, mmap: 477, munmap: 73, getpid: 20 },
  O_RDWR: 2,
  PROT_READ: 1,
  PROT_WRITE: 2,
  MAP_SHARED: 1,
  MAP_PRIVATE: 2,
  MAP_ANON: 0x1000,
  ioctl_cmd: freebsd_ioctl,
  errnames: { 9: "EBADF", 14: "EFAULT", 22: "EINVAL", 25: "ENOTTY", 35: "EAGAIN", 12: "ENOMEM", 19: "ENODEV", 4: "EINTR", 16: "EBUSY", 2: "ENOENT" },
};

export const linux_os: os = {
  name: "linux",
  nr: { read: 0, write: 1, open: 2, close: 3, ioctl: 16, mmap: 9, munmap: 11, getpid: 39 },
  O_RDWR: 2,
  PROT_READ: 1,
  PROT_WRITE: 2,
  MAP_SHARED: 1,
  MAP_PRIVATE: 2,
  MAP_ANON: 0x20,
  ioctl_cmd: linux_ioctl,
  errnames: { 9: "EBADF", 14: "EFAULT", 22: "EINVAL", 25: "ENOTTY", 11: "EAGAIN", 12: "ENOMEM", 19: "ENODEV", 4: "EINTR", 16: "EBUSY", 2: "ENOENT" },
};

/** A system call's outcome in OS-neutral form: a value, or an errno name. */
export type outcome = { val: number } | { err: string };

export async function call(o: os, nr: number, ...args: (number | bigint)[]): Promise<outcome> {
  const r = await syscall(nr, ...args);
  if (o.name === "freebsd") return r.carry ? { err: o.errnames[Number(r.rax)] ?? `errno${r.rax}` } : { val: Number(r.rax) };
  const v = BigInt.asIntN(64, r.rax);
  if (v < 0n && v >= -4095n) return { err: o.errnames[Number(-v)] ?? `errno${-v}` };
  return { val: Number(BigInt.asUintN(64, r.rax)) };
}

export const val = (r: outcome): number => {
  if ("err" in r) throw new Error(`unexpected ${r.err}`);
  return r.val;
};

export function ustr(addr: number, s: string): number {
  user_store(addr, new TextEncoder().encode(s + "\0"));
  return addr;
}

export function uload(addr: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  user_load(addr, b);
  return b;
}

export { user_store };
