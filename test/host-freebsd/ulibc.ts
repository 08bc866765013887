// A tiny FreeBSD libc for test programs: system calls by number through
// machine/syscall.ts, with FreeBSD's return convention (carry + positive errno).

import { syscall, user_load, user_store } from "../../machine/syscall.js";
import { SYS_close, SYS_exit, SYS_getpid, SYS_ioctl, SYS_kill, SYS_mmap, SYS_munmap, SYS_open, SYS_read, SYS_write } from "../../host-freebsd/sys/syscall.js";
import { MAP_ANON, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../../host-freebsd/sys/mman.js";

export interface r {
  err: number;
  val: number;
}

export async function sys(nr: number, ...args: (number | bigint)[]): Promise<r> {
  const res = await syscall(nr, ...args);
  return res.carry ? { err: Number(res.rax), val: -1 } : { err: 0, val: Number(res.rax) };
}

/** Scratch memory for strings and structs: an anonymous mapping. */
export class umem {
  private next: number;
  private constructor(
    readonly base: number,
    readonly size: number,
  ) {
    this.next = base;
  }
  static async create(size = 65536): Promise<umem> {
    const r = await sys(SYS_mmap, 0, size, PROT_READ | PROT_WRITE, MAP_ANON | MAP_PRIVATE, -1, 0);
    if (r.err !== 0) throw new Error(`mmap failed: ${r.err}`);
    return new umem(r.val, size);
  }
  alloc(n: number): number {
    const a = this.next;
    this.next += (n + 15) & ~15;
    if (this.next > this.base + this.size) throw new Error("umem exhausted");
    return a;
  }
  str(s: string): number {
    const b = new TextEncoder().encode(s + "\0");
    const a = this.alloc(b.length);
    user_store(a, b);
    return a;
  }
  bytes(b: Uint8Array): number {
    const a = this.alloc(b.length);
    user_store(a, b);
    return a;
  }
}

export const open = async (m: umem, path: string, flags: number) => sys(SYS_open, m.str(path), flags);
export const close = (fd: number) => sys(SYS_close, fd);
export const read = (fd: number, buf: number, n: number) => sys(SYS_read, fd, buf, n);
export const write = (fd: number, buf: number, n: number) => sys(SYS_write, fd, buf, n);
export const ioctl = (fd: number, cmd: number | bigint, arg: number | bigint) => sys(SYS_ioctl, fd, cmd, arg);
export const mmap = (len: number, prot: number, flags: number, fd: number, off: number) => sys(SYS_mmap, 0, len, prot, flags, fd, off);
export const munmap = (addr: number, len: number) => sys(SYS_munmap, addr, len);
export const getpid = () => sys(SYS_getpid);
export const kill = (pid: number, sig: number) => sys(SYS_kill, pid, sig);
export const exit = (code: number) => sys(SYS_exit, code);

export function load(addr: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  user_load(addr, b);
  return b;
}
