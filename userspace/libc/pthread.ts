// <pthread.h>: pthread_create and pthread_join, the way the C library of each host
// builds them on its kernel's thread primitives.
//
// Linux (glibc/NPTL): the thread's stack is an anonymous mapping, and its descriptor
// (struct pthread) sits at the top of it. clone(2) starts the thread with glibc's flags:
// same address space, fd table and signal handlers, in the caller's thread group; the
// kernel writes the new tid into the descriptor before clone returns
// (CLONE_PARENT_SETTID), and when the thread exits it writes 0 there and does a futex
// wake on it (CLONE_CHILD_CLEARTID). pthread_join waits with FUTEX_WAIT on that word
// until it is 0, then reads the start routine's return value from the descriptor and
// frees the stack.
//
// FreeBSD (libthr: thr_new, thr_exit, _umtx_op) is not written yet: its branch throws.
//
// A thread here is a UserEntry (machine/syscall.ts): where C passes a start routine's
// address, this library passes the function. The thread may use the same Libc object
// as its creator; errno is then shared (in C it is per-thread).

import { uva, type Uva } from "../../machine/addr.js";
import { syscall, syscall_with_entry, type SyscallResult } from "../../machine/syscall.js";
import type { Libc } from "./libc.js";

// clone flags (include/uapi/linux/sched.h) glibc's create_thread passes.
const CLONE_VM = 0x00000100;
const CLONE_FS = 0x00000200;
const CLONE_FILES = 0x00000400;
const CLONE_SIGHAND = 0x00000800;
const CLONE_THREAD = 0x00010000;
const CLONE_SYSVSEM = 0x00040000;
const CLONE_SETTLS = 0x00080000;
const CLONE_PARENT_SETTID = 0x00100000;
const CLONE_CHILD_CLEARTID = 0x00200000;
const CLONE_PTHREAD_FLAGS = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SYSVSEM | CLONE_SIGHAND | CLONE_THREAD | CLONE_SETTLS |
  CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
/** FUTEX_WAIT without FUTEX_PRIVATE_FLAG: the kernel's CLONE_CHILD_CLEARTID wake is a
 *  shared one, and a private waiter would never meet it. */
const FUTEX_WAIT = 0;

/** Default thread stack size (glibc uses RLIMIT_STACK, typically 8 MiB). Pages are only
 *  allocated when touched; only the descriptor's page is. */
export const PTHREAD_STACK_DEFAULT = 8 << 20;

/** struct pthread, the part this library uses, at the top of the stack:
 *    +0  tid    (int)  the kernel's CLONE_PARENT_SETTID / CLONE_CHILD_CLEARTID word
 *    +8  result (long) what the start routine returned
 *    +16 self   (struct pthread *): the TLS pointer (%fs base) points here */
const PTHREAD_SIZE = 64;
const OFF_TID = 0;
const OFF_RESULT = 8;
const OFF_SELF = 16;

interface pthread {
  readonly tid: number;
  /** Some thread is in pthread_join for it (glibc's joinid). */
  joining: boolean;
  readonly desc: Uva;
  readonly stack: Uva;
  readonly stack_size: number;
}

/** The threads of each process's C library (a process has one Libc). */
const threads = new WeakMap<Libc, Map<number, pthread>>();

function thread_list(c: Libc): Map<number, pthread> {
  let m = threads.get(c);
  if (m === undefined) threads.set(c, (m = new Map()));
  return m;
}

function errno_of(c: Libc, name: string): number {
  for (const [n, s] of Object.entries(c.abi.errno_names)) if (s === name) return Number(n);
  throw new Error(`${c.abi.name} libc: no errno ${name}`);
}

// FreeBSD libthr: struct thr_param (sys/thr.h, amd64) and the umtx operation join uses.
const THR_PARAM_SIZE = 104;
const THR_PARAM_STACK_BASE = 16, THR_PARAM_STACK_SIZE = 24, THR_PARAM_CHILD_TID = 48, THR_PARAM_PARENT_TID = 56;
const UMTX_OP_WAIT = 2;
/** The value thr_exit(2) stores in the tid word of a thread that has ended (TID_TERMINATED). */
const TID_TERMINATED = 1n;

function freebsd_nr(c: Libc, name: "thr_new" | "thr_exit" | "_umtx_op" | "thr_self"): number {
  const nr = c.abi.SYS[name];
  if (nr === undefined) throw new Error(`${c.abi.name} libc: no system call number for ${name}`);
  return nr;
}

function linux_nr(c: Libc, name: "clone" | "futex" | "gettid"): number {
  const nr = c.abi.SYS[name];
  if (nr === undefined) throw new Error(`${c.abi.name} libc: no system call number for ${name}`);
  return nr;
}

/** The value of a raw system call, or null with errno set. */
function result(c: Libc, r: SyscallResult): bigint | null {
  const d = c.abi.decode(r);
  if (d.errno !== 0) {
    c.errno = d.errno;
    return null;
  }
  return d.value;
}

/** pthread_create: start `fn` in a new thread of this process; its tid, or -1 with
 *  errno set (the stack could not be mapped, or clone failed). */
export async function pthread_create(c: Libc, fn: () => Promise<number>): Promise<number> {
  if (c.abi.name === "freebsd") return pthread_create_thr(c, fn);
  const size = PTHREAD_STACK_DEFAULT;
  const stack = await c.mmap(null, size, c.abi.PROT_READ | c.abi.PROT_WRITE, c.abi.MAP_PRIVATE | c.abi.MAP_ANON, -1, 0);
  if (stack === null) return -1;
  const desc = uva(stack + size - PTHREAD_SIZE);
  const d = new Uint8Array(PTHREAD_SIZE);
  new DataView(d.buffer).setBigUint64(OFF_SELF, BigInt(desc), true);
  c.poke(desc, d);
  // start_thread: run the routine, keep its result for pthread_join; returning from
  // the entry is exit(2) of this thread alone.
  const start = async (): Promise<number> => {
    const v = await fn();
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, BigInt(Math.trunc(v)), true);
    c.poke(uva(desc + OFF_RESULT), b);
    return 0;
  };
  // The initial stack pointer is just below the descriptor, 16-byte aligned.
  const sp = desc - 16;
  const tid = result(c, await syscall_with_entry(linux_nr(c, "clone"), start, CLONE_PTHREAD_FLAGS, sp, desc + OFF_TID, desc + OFF_TID, desc));
  if (tid === null) {
    const e = c.errno;
    await c.munmap(stack, size);
    c.errno = e;
    return -1;
  }
  thread_list(c).set(Number(tid), { tid: Number(tid), joining: false, desc, stack, stack_size: size });
  return Number(tid);
}

/** pthread_join: wait for thread `tid` of this process to end; the value its start
 *  routine returned. -1 with errno ESRCH for a thread this library did not create (or
 *  one already joined), EDEADLK for the calling thread itself, EINVAL when another
 *  thread is already joining it. */
export async function pthread_join(c: Libc, tid: number): Promise<number> {
  const list = thread_list(c);
  const pd = list.get(tid);
  if (pd === undefined) {
    c.errno = errno_of(c, "ESRCH");
    return -1;
  }
  const self = await current_tid(c);
  if (self !== null && Number(self) === tid) {
    c.errno = errno_of(c, "EDEADLK");
    return -1;
  }
  if (pd.joining) {
    c.errno = errno_of(c, "EINVAL");
    return -1;
  }
  pd.joining = true;
  // __pthread_clockjoin_ex / lll_wait_tid: sleep while the kernel has not cleared the
  // tid. EAGAIN (it changed before we slept) and EINTR (a signal) just look again.
  const tid_word = uva(pd.desc + OFF_TID);
  if (c.abi.name === "freebsd") {
    // libthr's pthread_join: wait on the tid word until thr_exit marks it terminated.
    for (;;) {
      const t = c.peek64(tid_word);
      if (t === TID_TERMINATED) break;
      await syscall(freebsd_nr(c, "_umtx_op"), tid_word, UMTX_OP_WAIT, t, 0, 0);
    }
  } else {
    for (;;) {
      const t = c.peek32(tid_word);
      if (t === 0) break;
      await syscall(linux_nr(c, "futex"), tid_word, FUTEX_WAIT, t, 0, 0, 0);
    }
  }
  const v = BigInt.asIntN(64, c.peek64(uva(pd.desc + OFF_RESULT)));
  list.delete(tid);
  await c.munmap(pd.stack, pd.stack_size);
  return Number(v);
}

async function current_tid(c: Libc): Promise<number | null> {
  if (c.abi.name === "linux") {
    const t = result(c, await syscall(linux_nr(c, "gettid")));
    return t === null ? null : Number(t);
  }
  const p = await c.malloc(8);
  if (p === null || result(c, await syscall(freebsd_nr(c, "thr_self"), p)) === null) return null;
  return Number(c.peek64(p));
}

/** FreeBSD: thr_new(2) with the thread's tid word as child_tid; the start
 *  routine ends in thr_exit(&tid), which stores TID_TERMINATED there and wakes a joiner,
 *  as libthr's thread_start and _pthread_exit do. */
async function pthread_create_thr(c: Libc, fn: () => Promise<number>): Promise<number> {
  const size = PTHREAD_STACK_DEFAULT;
  const stack = await c.mmap(null, size, c.abi.PROT_READ | c.abi.PROT_WRITE, c.abi.MAP_PRIVATE | c.abi.MAP_ANON, -1, 0);
  if (stack === null) return -1;
  const desc = uva(stack + size - PTHREAD_SIZE);
  c.poke(desc, new Uint8Array(PTHREAD_SIZE));
  const start = async (): Promise<number> => {
    const v = await fn();
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, BigInt(Math.trunc(v)), true);
    c.poke(uva(desc + OFF_RESULT), b);
    await syscall(freebsd_nr(c, "thr_exit"), desc + OFF_TID);
    return 0;
  };
  const param = new Uint8Array(THR_PARAM_SIZE);
  const v = new DataView(param.buffer);
  v.setBigUint64(THR_PARAM_STACK_BASE, BigInt(stack), true);
  v.setBigUint64(THR_PARAM_STACK_SIZE, BigInt(size - PTHREAD_SIZE), true);
  v.setBigUint64(THR_PARAM_CHILD_TID, BigInt(desc + OFF_TID), true);
  // parent_tid in a word of its own: a child that ends at once overwrites the tid word.
  v.setBigUint64(THR_PARAM_PARENT_TID, BigInt(desc + OFF_SELF), true);
  const pp = await c.malloc(THR_PARAM_SIZE);
  if (pp === null) return -1;
  c.poke(pp, param);
  if (result(c, await syscall_with_entry(freebsd_nr(c, "thr_new"), start, pp, THR_PARAM_SIZE)) === null) {
    const e = c.errno;
    await c.munmap(stack, size);
    c.errno = e;
    return -1;
  }
  const tid = Number(c.peek64(uva(desc + OFF_SELF)));
  thread_list(c).set(tid, { tid, joining: false, desc, stack, stack_size: size });
  return tid;
}
