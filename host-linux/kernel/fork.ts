// kernel/fork.c: creating tasks (copy_process) with their kernel stacks, and
// kernel_thread / kthread_run for kernel threads.

import { Context } from "../../machine/engine.js";
import type { linux_kernel } from "../init/main.js";
import { EAGAIN, ENOMEM } from "../include/linux/errno.js";
import { GFP_KERNEL } from "../include/linux/gfp_types.js";
import { PF_KTHREAD, THREAD_SIZE_ORDER, task_struct } from "../include/linux/sched.js";
import type { mm_struct } from "../mm/mm_struct.js";
import type { files_struct } from "../fs/file.js";
import { __free_pages, alloc_pages_nowait } from "../mm/page_alloc.js";
import { wait_queue_head } from "./sched/wait.js";
import { finish_task_switch, wake_up_new_task } from "./sched/core.js";
import { do_exit } from "./exit.js";

/** pid_max. */
const PID_MAX = 32768;

function alloc_pid(k: linux_kernel): number {
  for (let tries = 0; tries < PID_MAX; tries++) {
    const pid = k.last_pid + 1 >= PID_MAX ? 300 : k.last_pid + 1;
    k.last_pid = pid;
    if (!k.pids.has(pid)) return pid;
  }
  return -EAGAIN;
}

export interface clone_args {
  comm: string;
  kthread: boolean;
  parent: task_struct | null;
  mm: mm_struct | null;
  files: files_struct | null;
  /** The thread function: its return value is the exit code of a kernel thread; a user
   *  task's function exits through do_exit itself. */
  fn: () => Promise<number>;
}

/** copy_process: a new task, not yet runnable; -errno on failure. */
export function copy_process(k: linux_kernel, args: clone_args): task_struct | number {
  const pid = alloc_pid(k);
  if (pid < 0) return pid;
  const stack = alloc_pages_nowait(k, GFP_KERNEL, THREAD_SIZE_ORDER);
  if (stack === null) return -ENOMEM;
  const p = new task_struct(pid, args.comm);
  p.stack = stack;
  p.flags = args.kthread ? PF_KTHREAD : 0;
  p.mm = args.mm;
  p.files = args.files;
  p.parent = args.parent;
  p.signal = { wait_chldexit: new wait_queue_head() };
  if (args.parent !== null) args.parent.children.push(p);
  p.ctx = new Context(`${args.comm}[${pid}]`, async () => {
    // ret_from_fork: schedule_tail, then the thread function.
    finish_task_switch(k);
    const code = await args.fn();
    await do_exit(k, (code & 0xff) << 8);
  });
  k.pids.set(pid, p);
  return p;
}

/** put_task_stack: the stack of a dead task, once nothing runs on it. */
export function put_task_stack(k: linux_kernel, t: task_struct): void {
  if (t.stack !== null) {
    __free_pages(k, t.stack, THREAD_SIZE_ORDER);
    t.stack = null;
  }
}

/** kthread_run: create and wake a kernel thread; the task, or -errno. */
export function kthread_run(k: linux_kernel, fn: () => Promise<number>, comm: string): task_struct | number {
  const p = copy_process(k, { comm, kthread: true, parent: null, mm: null, files: null, fn });
  if (typeof p === "number") return p;
  wake_up_new_task(k, p);
  return p;
}
