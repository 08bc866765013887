// sys/kern/kern_exit.c: exit1 and kern_wait.
// An exiting process closes every descriptor (the last reference of each file runs
// its close), tears down its address space (mappings, pages, page-table pages), and
// becomes a zombie its parent reaps in kern_wait.

import { curkernel, curthread, curpcpu } from "../sys/pcpu.js";
import { ECHILD, EINTR } from "../sys/errno.js";
import { P_WEXIT, type proc, type thread } from "../sys/proc.js";
import { fdescfree } from "./kern_descrip.js";
import { vmspace_free } from "../vm/vm_map.js";
import { sleepq_abort, tsleep, wakeup } from "./kern_synch.js";
import { thread_exit } from "./kern_thread.js";

/** exit1: terminate the current process with exit status rv or signal signo. Never
 *  returns. */
export async function exit1(td: thread, rv: number, signo: number): Promise<never> {
  const k = curkernel();
  const p = td.td_proc;
  if (p.p_flag & P_WEXIT) {
    // Another thread is taking the process down: just leave (thread_exit wakes it).
    thread_exit();
    return new Promise<never>(() => {});
  }
  p.p_flag |= P_WEXIT;
  // thread_single(SINGLE_EXIT): interrupt the other threads' interruptible sleeps and
  // wait until each has left (at its next kernel entry or return to user mode).
  for (const other of p.p_threads) if (other !== td) sleepq_abort(k, other, EINTR);
  while (p.p_threads.length > 1) await tsleep(p.p_threads, 0, "exit1", 0);
  // Leave anything the thread still held (a killed thread may be pinned).
  td.td_pinned = 0;
  await fdescfree(td);
  // vmspace_exit: switch to the kernel's page tables before freeing ours.
  const vs = p.p_vmspace;
  k.umtx_keys.delete(vs);
  p.p_vmspace = k.proc0.p_vmspace;
  curpcpu().pc_cpu.x86.state.cr3 = k.kernel_pmap.pm_cr3;
  await vmspace_free(k, vs);
  p.p_xexit = rv;
  p.p_xsig = signo;
  p.p_state = "PRS_ZOMBIE";
  p.p_siglist.clear();
  td.td_siglist.clear();
  if (p.p_pptr !== null) wakeup(p.p_pptr);
  thread_exit();
  return new Promise<never>(() => {});
}

/** kern_wait: wait for child `pid` to exit and reap it. */
export async function kern_wait(pid: number): Promise<{ error: number; p: proc | null }> {
  const k = curkernel();
  const parent = curthread().td_proc;
  for (;;) {
    const child = parent.p_children.find((c) => c.p_pid === pid);
    if (child === undefined) return { error: ECHILD, p: null };
    if (child.p_state === "PRS_ZOMBIE") {
      parent.p_children.splice(parent.p_children.indexOf(child), 1);
      k.allproc.splice(k.allproc.indexOf(child), 1);
      return { error: 0, p: child };
    }
    await tsleep(parent, 0, "wait", 0);
  }
}
