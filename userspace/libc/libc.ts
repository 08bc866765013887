// The C library of a simulated process: system-call stubs with C's conventions
// (-1 and errno), a heap, and loads/stores of the process's own memory. Everything
// goes through machine/syscall.ts: the SYSCALL instruction and user-mode accesses
// that fault into whichever kernel runs the process.

import type { IoctlDef } from "../../include/uapi/asm-generic/ioctl.js";
import { Structure } from "../../include/uapi/struct_layout.js";
import { uva, type Uva } from "../../machine/addr.js";
import { syscall, user_load, user_store } from "../../machine/syscall.js";
import type { OsAbi } from "./abi.js";

const HEAP_CHUNK = 1 << 20;

export class Libc {
  /** errno of the last failed call. */
  errno = 0;
  private heap_next = 0;
  private heap_end = 0;

  constructor(readonly abi: OsAbi) {}

  private async sys(nr: number, ...args: (number | bigint)[]): Promise<bigint> {
    const r = this.abi.decode(await syscall(nr, ...args));
    if (r.errno !== 0) this.errno = r.errno;
    return r.value;
  }

  /** strerror-like name of an errno ("EINVAL"). */
  errname(e = this.errno): string {
    return this.abi.errno_names[e] ?? `errno ${e}`;
  }

  // --- memory of this process ---------------------------------------------------------

  peek(addr: Uva, n: number): Uint8Array {
    const b = new Uint8Array(n);
    user_load(addr, b);
    return b;
  }
  poke(addr: Uva, bytes: Uint8Array): void {
    user_store(addr, bytes);
  }
  peek8(addr: Uva): number {
    return this.peek(addr, 1)[0];
  }
  peek32(addr: Uva): number {
    return new DataView(this.peek(addr, 4).buffer).getUint32(0, true);
  }
  peek64(addr: Uva): bigint {
    return new DataView(this.peek(addr, 8).buffer).getBigUint64(0, true);
  }
  /** Read a C struct from this process's memory. */
  load<T>(layout: Structure<T>, addr: Uva): T {
    return layout.decode(this.peek(addr, layout.span));
  }
  /** Write a C struct into this process's memory. */
  store<T>(layout: Structure<T>, addr: Uva, value: T): void {
    const b = new Uint8Array(layout.span);
    layout.encode(value, b, 0);
    this.poke(addr, b);
  }

  /** malloc: a bump allocator over anonymous mappings (free is a no-op, as in a
   *  short-lived tool that exits; the kernel reclaims everything at exit). */
  async malloc(n: number): Promise<Uva | null> {
    const size = (n + 15) & ~15;
    if (this.heap_next + size > this.heap_end) {
      const len = Math.max(HEAP_CHUNK, (size + 4095) & ~4095);
      const p = await this.mmap(null, len, this.abi.PROT_READ | this.abi.PROT_WRITE, this.abi.MAP_PRIVATE | this.abi.MAP_ANON, -1, 0);
      if (p === null) return null;
      this.heap_next = p;
      this.heap_end = p + len;
    }
    const at = this.heap_next;
    this.heap_next += size;
    return uva(at);
  }

  /** A NUL-terminated copy of s in this process's memory. */
  async strdup(s: string): Promise<Uva | null> {
    const b = new TextEncoder().encode(s + "\0");
    const p = await this.malloc(b.length);
    if (p !== null) this.poke(p, b);
    return p;
  }

  // --- system calls ----------------------------------------------------------------------

  async open(path: string, flags: number): Promise<number> {
    const p = await this.strdup(path);
    if (p === null) return -1;
    return Number(await this.sys(this.abi.SYS.open, p, flags, 0));
  }

  async close(fd: number): Promise<number> {
    return Number(await this.sys(this.abi.SYS.close, fd));
  }

  /** ioctl(fd, request, arg): request is the uapi definition, encoded for this OS. */
  async ioctl(fd: number, req: IoctlDef, arg: number | bigint = 0): Promise<number> {
    return Number(BigInt.asIntN(64, await this.sys(this.abi.SYS.ioctl, fd, this.abi.ioctl_number(req), arg)));
  }

  /** ioctl with a raw command number (for tests of malformed commands). */
  async ioctl_raw(fd: number, cmd: number, arg: number | bigint = 0): Promise<number> {
    return Number(BigInt.asIntN(64, await this.sys(this.abi.SYS.ioctl, fd, cmd, arg)));
  }

  /** mmap; null for MAP_FAILED (errno set). */
  async mmap(addr: Uva | null, len: number, prot: number, flags: number, fd: number, offset: number): Promise<Uva | null> {
    const r = await this.sys(this.abi.SYS.mmap, addr ?? 0, len, prot, flags, BigInt.asUintN(64, BigInt(fd)), offset);
    if (r === -1n || r === this.abi.MAP_FAILED) return null;
    return uva(Number(r));
  }

  async munmap(addr: Uva, len: number): Promise<number> {
    return Number(await this.sys(this.abi.SYS.munmap, addr, len));
  }

  async write(fd: number, bytes: Uint8Array): Promise<number> {
    if (bytes.length === 0) return 0;
    const p = await this.malloc(bytes.length);
    if (p === null) return -1;
    this.poke(p, bytes);
    return Number(await this.sys(this.abi.SYS.write, fd, p, bytes.length));
  }

  /** Write a whole string to fd (stdio's fputs). */
  async puts(fd: number, s: string): Promise<void> {
    const b = new TextEncoder().encode(s);
    let off = 0;
    while (off < b.length) {
      const n = await this.write(fd, b.subarray(off));
      if (n <= 0) return;
      off += n;
    }
  }

  /** read(2) of at most n bytes; the bytes read, or null (errno set). */
  async read(fd: number, n: number): Promise<Uint8Array | null> {
    const p = await this.malloc(Math.max(1, n));
    if (p === null) return null;
    const r = await this.sys(this.abi.SYS.read, fd, p, n);
    if (r === -1n) return null;
    return this.peek(p, Number(r));
  }

  /** sysctlbyname(3) read side (FreeBSD): the OID's value, at most oldlen bytes, or null
   *  (errno set; ENOSYS on a host without the call). A value longer than oldlen is an
   *  error (ENOMEM), as with the real call. */
  async sysctlbyname(name: string, oldlen: number): Promise<Uint8Array | null> {
    const nr = this.abi.SYS.__sysctlbyname;
    if (nr === undefined) {
      this.errno = Number(Object.entries(this.abi.errno_names).find(([, v]) => v === "ENOSYS")?.[0] ?? 38);
      return null;
    }
    const nm = new TextEncoder().encode(name);
    const p = await this.malloc(nm.length + 16 + Math.max(1, oldlen));
    if (p === null) return null;
    const lenp = uva(p + ((nm.length + 7) & ~7));
    const old = uva(lenp + 8);
    this.poke(p, nm);
    const lb = new Uint8Array(8);
    new DataView(lb.buffer).setBigUint64(0, BigInt(oldlen), true);
    this.poke(lenp, lb);
    const r = await this.sys(nr, p, nm.length, old, lenp, 0, 0);
    if (r === -1n) return null;
    return this.peek(old, Number(this.peek64(lenp)));
  }

  /** The calling thread's kernel id: gettid(2) on Linux, thr_self(2) on FreeBSD. */
  async thread_id(): Promise<number> {
    if (this.abi.SYS.gettid !== undefined) return Number(await this.sys(this.abi.SYS.gettid));
    if (this.abi.SYS.thr_self !== undefined) {
      const p = await this.malloc(8);
      if (p === null) return -1;
      if ((await this.sys(this.abi.SYS.thr_self, p)) === -1n) return -1;
      return Number(this.peek64(p));
    }
    return this.getpid();
  }

  async getpid(): Promise<number> {
    return Number(await this.sys(this.abi.SYS.getpid));
  }

  async kill(pid: number, sig: number): Promise<number> {
    return Number(await this.sys(this.abi.SYS.kill, pid, sig));
  }

  /** exit(3): the whole process (Linux's exit_group; FreeBSD's exit is per process). */
  async exit(status: number): Promise<never> {
    await this.sys(this.abi.SYS.exit_group ?? this.abi.SYS.exit, status);
    throw new Error("exit(2) returned");
  }
}
