// sys/kern/kern_thread.c and kern_kthread.c: creating threads on kernel stacks
// (engine Contexts) and ending them.

import { Context } from "../../machine/engine.js";
import { curkernel, curthread } from "../sys/pcpu.js";
import { P_WEXIT, type proc, thread } from "../sys/proc.js";
import type { kernel } from "../sys/kernel.js";
import { panic } from "./kern_shutdown.js";
import { sched_add, sched_switch } from "./sched_ule.js";
import { kwakeup } from "./kern_synch.js";

/** thread_alloc + cpu_fork: a new thread of p whose kernel stack runs `body`, then exits. */
export function thread_create(k: kernel, p: proc, name: string, body: () => Promise<void>): thread {
  const td = new thread(k.next_tid++, name, p);
  td.td_context = new Context(`${p.p_comm}:${name}`, async () => {
    // fork_exit: the thread that switched to us already made us curthread.
    await body();
    thread_exit();
  });
  p.p_threads.push(td);
  return td;
}

/** kthread_add(9): a kernel thread in proc0, runnable at once. */
export function kthread_add(k: kernel, func: () => Promise<void>, name: string, cpu = -1): thread {
  const td = thread_create(k, k.proc0, name, func);
  td.td_lastcpu = cpu >= 0 ? cpu : 0;
  if (cpu >= 0) td.td_pinned = 1;
  sched_add(k, td);
  return td;
}

/** thread_exit: the current thread never runs again; its CPU switches to the next. */
export function thread_exit(): void {
  const td = curthread();
  if (td.td_critnest > 0 || td.td_locks.length > 0)
    panic(`thread_exit: ${td.td_name} exits with td_critnest ${td.td_critnest}, ${td.td_locks.length} locks held`);
  const p = td.td_proc;
  const i = p.p_threads.indexOf(td);
  if (i >= 0) p.p_threads.splice(i, 1);
  if ((p.p_flag & P_WEXIT) !== 0) kwakeup(curkernel(), p.p_threads);
  td.td_state = "TDS_INACTIVE";
  void sched_switch(td);
}
