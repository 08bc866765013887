// kernel/futex/core.c: futex keys and the hash of wait queues.
//
// A futex is a u32 in user memory; waiters on it queue on a hash bucket under a key
// that names the memory, not the virtual address alone (get_futex_key):
//   - FUTEX_PRIVATE_FLAG: (mm, page address, offset in page). Only threads of one
//     address space can meet there; this is what glibc uses for process-private locks.
//   - shared, anonymous memory: the same, with FUT_OFF_MMSHARED in the offset, so a
//     private and a shared operation on the same word never meet (as on Linux).
//   - shared, a MAP_SHARED file mapping: (inode, page index in the file, offset) with
//     FUT_OFF_INODE, so every process mapping that page of the file meets there.
// Linux tells anonymous from file pages by the page (PageAnon); this model goes by the
// VMA: a private file mapping keys like anonymous memory.
//
// Locking: the bucket lock (hb->lock) is implicit: the value check and the queueing in
// futex_wait, and the walk in futex_wake, are synchronous and so atomic against each
// other, which is the whole point of the lock.

import { PAGE_SIZE, type Uva } from "../../../machine/addr.js";
import type { linux_kernel } from "../../init/main.js";
import { EFAULT, EINVAL } from "../../include/linux/errno.js";
import { VM_SHARED, type page } from "../../include/linux/mm_types.js";
import type { task_struct } from "../../include/linux/sched.js";
import { get_current } from "../../arch/x86/kernel/percpu.js";
import { access_ok } from "../../lib/usercopy.js";
import { get_user_pages_fast } from "../../mm/gup.js";
import { find_vma } from "../../mm/mmap.js";
import { put_page } from "../../mm/page_alloc.js";

/** key.both.offset flags. */
export const FUT_OFF_INODE = 1;
export const FUT_OFF_MMSHARED = 2;

/** flags of the futex_* functions (kernel/futex/futex.h). */
export const FLAGS_SHARED = 0x01;
export const FLAGS_CLOCKRT = 0x02;

/** union futex_key, as its `both` view: ptr is the mm or the inode; word the page's
 *  user address or its index in the file; offset the byte in the page plus FUT_OFF_*. */
export interface futex_key {
  readonly ptr: object;
  readonly word: number;
  readonly offset: number;
}

/** struct futex_q: one waiter. `queued` is !plist_node_empty(&q->list): a waker
 *  unqueues the entry before waking its task. */
export interface futex_q {
  readonly task: task_struct;
  readonly key: futex_key;
  readonly bitset: number;
  queued: boolean;
}

export class futex_hash_bucket {
  readonly chain: futex_q[] = [];
}

/** futex_init: roundup_pow_of_two(256 * num_possible_cpus()) buckets. */
export function futex_init(k: linux_kernel): void {
  let n = 1;
  while (n < 256 * k.percpu.length) n *= 2;
  for (let i = 0; i < n; i++) k.futex_queues.push(new futex_hash_bucket());
}

export const futex_match = (a: futex_key, b: futex_key): boolean => a.ptr === b.ptr && a.word === b.word && a.offset === b.offset;

/** futex_hash: the bucket of a key (a multiplicative hash of word and offset; keys of
 *  different mms or inodes may share a bucket and are told apart by futex_match). */
export function futex_hash(k: linux_kernel, key: futex_key): futex_hash_bucket {
  const n = k.futex_queues.length;
  const h = Math.imul(((key.word / PAGE_SIZE) >>> 0) ^ Math.imul(key.offset, 0x9e3779b1), 0x85ebca6b) >>> 0;
  return k.futex_queues[h & (n - 1)];
}

/** get_futex_key: the key of the u32 at uaddr, or -errno (EINVAL for a misaligned
 *  address, EFAULT for one that is not user memory, or not mapped for a shared key). */
export async function get_futex_key(k: linux_kernel, uaddr: number, flags: number, write: boolean): Promise<futex_key | number> {
  if (uaddr % 4 !== 0) return -EINVAL;
  const offset = uaddr % PAGE_SIZE;
  const address = uaddr - offset;
  if (!access_ok(uaddr, 4)) return -EFAULT;
  const mm = get_current(k).mm;
  if (mm === null) return -EFAULT;
  if ((flags & FLAGS_SHARED) === 0) return { ptr: mm, word: address, offset };
  // Shared: the page must be there (faulted in if need be), as get_user_pages_fast
  // finds it for Linux; the reference is dropped at once.
  const pages: page[] = [];
  const n = await get_user_pages_fast(k, address as Uva, 1, write, pages);
  if (n !== 1) return -EFAULT;
  put_page(k, pages[0]);
  const vma = find_vma(mm, address);
  if (vma === null || vma.vm_start > address) return -EFAULT;
  if (vma.vm_file !== null && vma.vm_flags & VM_SHARED)
    return { ptr: vma.vm_file.f_inode, word: vma.vm_pgoff + (address - vma.vm_start) / PAGE_SIZE, offset: offset | FUT_OFF_INODE };
  return { ptr: mm, word: address, offset: offset | FUT_OFF_MMSHARED };
}
