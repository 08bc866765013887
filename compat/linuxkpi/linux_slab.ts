// sys/compat/linuxkpi/common/src/linux_slab.c: kmalloc over malloc(9), and the
// model's kernel pointer dereference (kmem_load/kmem_store) through the kernel's
// translations (DMAP and kernel map).
//
// kfree inside a critical section: FreeBSD's free(9) panics there, so LinuxKPI queues
// the object and frees it from a task (linux_kfree_async); the preset can turn that off
// to show the panic.

import type { Kva } from "../../machine/addr.js";
import { curthread } from "../../host-freebsd/sys/pcpu.js";
import { free, malloc, malloc_usable_size } from "../../host-freebsd/kern/kern_malloc.js";
import { kmem_access } from "../../host-freebsd/amd64/pmap.js";
import { wakeup, tsleep } from "../../host-freebsd/kern/kern_synch.js";
import { kthread_add } from "../../host-freebsd/kern/kern_thread.js";
import type { gfp_t } from "../linux/gfp_types.js";
import type { linuxkpi_state } from "./linuxkpi_state.js";
import { linux_check_m_flags } from "./linux_gfp.js";

/** linux_kmalloc. DIVERGENCE: an object larger than PAGE_SIZE comes from the kernel
 *  map and is virtually but not physically contiguous (Linux's kmalloc memory is
 *  physically contiguous); kmalloc(0) returns a real minimum-size object, not
 *  ZERO_SIZE_PTR. */
export function linux_kmalloc(s: linuxkpi_state, size: number, flags: gfp_t): Promise<Kva | null> {
  return malloc(size, s.M_KMALLOC, linux_check_m_flags(flags, "kmalloc"));
}

export function linux_kfree(s: linuxkpi_state, addr: Kva | null): void {
  if (addr === null) return;
  if (curthread().td_critnest > 0 && s.config.kfree_in_critical === "defer") {
    // DIVERGENCE: the memory is released later, by the linuxkpi task thread.
    s.deferred_free.push(addr);
    wakeup(s.deferred_free);
    return;
  }
  free(addr, s.M_KMALLOC);
}

export const linux_ksize = (addr: Kva): number => malloc_usable_size(addr);

export function linux_kmem_load(s: linuxkpi_state, addr: Kva, dst: Uint8Array): void {
  kmem_access(s.k, addr, dst, false);
}

export function linux_kmem_store(s: linuxkpi_state, addr: Kva, src: Uint8Array): void {
  kmem_access(s.k, addr, src, true);
}

/** Start the task thread that performs deferred frees (linux_kfree_async's taskqueue). */
export function linux_kfree_task_start(s: linuxkpi_state): void {
  s.taskq_running = true;
  s.taskq_exited = false;
  kthread_add(s.k, async () => {
    for (;;) {
      while (s.deferred_free.length > 0) free(s.deferred_free.shift()!, s.M_KMALLOC);
      if (!s.taskq_running) break;
      await tsleep(s.deferred_free, 0, "lkpifree", 0);
    }
    s.taskq_exited = true;
    wakeup(s);
  }, "linuxkpi_taskq");
}

/** Stop it, after it has drained the queue. */
export async function linux_kfree_task_stop(s: linuxkpi_state): Promise<void> {
  s.taskq_running = false;
  wakeup(s.deferred_free);
  while (!s.taskq_exited) await tsleep(s, 0, "lkpidrn", 0);
}
