// User-mode helpers for thread tests: raw clone/futex system calls and a futex-based
// mutex (Drepper's "Futexes Are Tricky", mutex 3), written as a C library would.
//
// Atomicity: user code of this model runs synchronously between system calls, so a
// load and a store with no await between them are one atomic read-modify-write, as a
// LOCK CMPXCHG is on a real CPU.

import { syscall, syscall_with_entry, user_load, user_store, type SyscallResult, type UserEntry } from "../../machine/syscall.js";

export const NR = {
  read: 0, write: 1, open: 2, close: 3, lseek: 8, mmap: 9, munmap: 11, ioctl: 16, sched_yield: 24, pause: 34, getpid: 39,
  clone: 56, exit: 60, kill: 62, arch_prctl: 158, gettid: 186, tkill: 200, futex: 202, getdents64: 217, set_tid_address: 218,
  exit_group: 231, tgkill: 234,
};
export const CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800, CLONE_THREAD = 0x10000,
  CLONE_SYSVSEM = 0x40000, CLONE_SETTLS = 0x80000, CLONE_PARENT_SETTID = 0x100000, CLONE_CHILD_CLEARTID = 0x200000,
  CLONE_CHILD_SETTID = 0x1000000, CLONE_NEWNS = 0x20000, CLONE_VFORK = 0x4000;
/** glibc's pthread_create flags. */
export const CLONE_PTHREAD = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SYSVSEM | CLONE_SIGHAND | CLONE_THREAD | CLONE_SETTLS |
  CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
export const FUTEX_WAIT = 0, FUTEX_WAKE = 1, FUTEX_PRIVATE_FLAG = 128;
export const PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, O_RDONLY = 0, O_RDWR = 2;

/** RAX as the C library sees it: a signed long. */
export const ret = (r: SyscallResult): number => Number(BigInt.asIntN(64, r.rax));

export async function mmap_anon(len: number): Promise<number> {
  return ret(await syscall(NR.mmap, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
}

export function load32(va: number): number {
  const b = new Uint8Array(4);
  user_load(va, b);
  return new DataView(b.buffer).getUint32(0, true);
}
export function store32(va: number, v: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  user_store(va, b);
}
/** LOCK CMPXCHG: the old value. */
export function cmpxchg32(va: number, expect: number, v: number): number {
  const old = load32(va);
  if (old === expect) store32(va, v);
  return old;
}
/** XCHG: the old value. */
export function xchg32(va: number, v: number): number {
  const old = load32(va);
  store32(va, v);
  return old;
}

export async function futex(uaddr: number, op: number, val: number, utime = 0, uaddr2 = 0, val3 = 0): Promise<number> {
  return ret(await syscall(NR.futex, uaddr, op, val, utime, uaddr2, val3));
}

/** A thread with glibc's flags; `desc` is its 8-byte descriptor word (tid at +0,
 *  cleared and woken at exit). The tid or -errno. */
export async function clone_thread(code: UserEntry, desc: number, flags = CLONE_PTHREAD): Promise<number> {
  return ret(await syscall_with_entry(NR.clone, code, flags, 0, desc, desc, desc));
}

/** pthread_join's wait: until the kernel clears the tid word at thread exit. */
export async function wait_tid(desc: number): Promise<void> {
  for (;;) {
    const tid = load32(desc);
    if (tid === 0) return;
    await futex(desc, FUTEX_WAIT, tid);
  }
}

/** Counters a test can read after the run. */
export interface lock_stats {
  /** FUTEX_WAITs that slept and were woken (returned 0). */
  slept: number;
  /** FUTEX_WAITs that found the word changed (EAGAIN). */
  eagain: number;
}

/** lll_lock: 0 unlocked, 1 locked, 2 locked with waiters. */
export async function mutex_lock(m: number, stats?: lock_stats): Promise<void> {
  let c = cmpxchg32(m, 0, 1);
  if (c === 0) return;
  if (c !== 2) c = xchg32(m, 2);
  while (c !== 0) {
    const r = await futex(m, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 2);
    if (stats !== undefined) {
      if (r === 0) stats.slept++;
      else if (r === -11) stats.eagain++;
    }
    c = xchg32(m, 2);
  }
}

export async function mutex_unlock(m: number): Promise<void> {
  if (xchg32(m, 0) === 2) await futex(m, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1);
}
