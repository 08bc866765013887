// include/linux/sched.h, arch/x86/include/asm/thread_info.h: the kernel's struct
// task_struct (a superset of what modules see, sched_types.ts) and its thread_info.
//
// Locking: the fields below are touched only by code running on a CPU of this
// kernel, and synchronous code is never interleaved with other code, so the rq lock
// and siglock of Linux are implicit: every update between two awaits is atomic.

import type { Context } from "../../../machine/engine.js";
import type { page } from "./mm_types.js";
import type { mm_struct } from "../../mm/mm_struct.js";
import type { files_struct } from "../../fs/file.js";
import type { wait_queue_head } from "../../kernel/sched/wait.js";
import type { task_struct as module_task_struct } from "./sched_types.js";
import type { held_lock } from "../../kernel/locking/lockdep.js";

// task->__state
export const TASK_RUNNING = 0x0000;
export const TASK_INTERRUPTIBLE = 0x0001;
export const TASK_UNINTERRUPTIBLE = 0x0002;
export const TASK_DEAD = 0x0080;
export const TASK_WAKEKILL = 0x0100;
export const TASK_KILLABLE = TASK_WAKEKILL | TASK_UNINTERRUPTIBLE;
export const TASK_NORMAL = TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE;

// task->exit_state
export const EXIT_DEAD = 0x0010;
export const EXIT_ZOMBIE = 0x0020;

// task->flags
export const PF_EXITING = 0x00000004;
export const PF_KTHREAD = 0x00200000;

// thread_info->flags
export const TIF_SIGPENDING = 1 << 2;
export const TIF_NEED_RESCHED = 1 << 3;

/** Bytes of a kernel stack (THREAD_SIZE on x86-64: 16 KiB, order 2). */
export const THREAD_SIZE_ORDER = 2;

export interface thread_info {
  flags: number;
  /** preempt_count of this task: nesting of preempt_disable (spinlocks, get_cpu). */
  preempt_count: number;
}

// signal->flags
/** The whole thread group is exiting (exit_group, a fatal signal). */
export const SIGNAL_GROUP_EXIT = 0x00000004;

/** struct signal_struct (with the part of sighand_struct this model needs): what the
 *  threads of one process (a thread group, CLONE_THREAD) share. The task list of the
 *  group is thread_head (signal->thread_head), leader first; a thread leaves it when it
 *  is released (__unhash_process). */
export class signal_struct {
  /** wait4() sleeps here for a child to exit (wait_chldexit). */
  readonly wait_chldexit: wait_queue_head;
  /** Threads of the group not yet through do_exit (signal->live). */
  live = 1;
  /** Threads of the group not yet released (signal->nr_threads). */
  nr_threads = 1;
  /** SIGNAL_GROUP_EXIT. */
  flags = 0;
  /** The wait status of the whole group once SIGNAL_GROUP_EXIT is set. */
  group_exit_code = 0;
  /** Signals sent to the process rather than to one thread (shared_pending). */
  readonly shared_pending = new Set<number>();
  /** Where complete_signal starts looking for a thread to take a shared signal. */
  curr_target: task_struct | null = null;
  readonly thread_head: task_struct[] = [];

  constructor(wait_chldexit: wait_queue_head) {
    this.wait_chldexit = wait_chldexit;
  }
}

/** struct thread_struct: the architectural per-thread state the kernel keeps. */
export interface thread_struct {
  /** FS base (the TLS pointer of the x86-64 ABI): CLONE_SETTLS, arch_prctl(ARCH_SET_FS). */
  fsbase: number;
  /** User stack pointer the thread was created with (clone's newsp). */
  sp: number;
}

export class task_struct implements module_task_struct {
  readonly thread_info: thread_info = { flags: 0, preempt_count: 0 };
  __state = TASK_RUNNING;
  exit_state = 0;
  /** wait4 status: (code & 0xff) << 8 for exit(), the signal number for a kill. */
  exit_code = 0;
  flags = 0;
  /** CPU whose runqueue this task is on (task_cpu). */
  cpu = 0;
  /** cpus_mask: CPUs the task may run on; null for all. */
  cpus_allowed: ReadonlySet<number> | null = null;
  /** Times the task moved to another CPU's runqueue. */
  nr_migrations = 0;
  /** Queued on a runqueue (runnable but not running). */
  on_rq = false;
  /** Kernel stack pages (THREAD_SIZE), freed when the task is released. */
  stack: page | null = null;
  mm: mm_struct | null = null;
  files: files_struct | null = null;
  parent: task_struct | null = null;
  readonly children: task_struct[] = [];
  /** Pending signals (sigpending.signal), by number. */
  readonly pending = new Set<number>();
  /** A synchronous fault signal (force_sig) that kills whatever the disposition. */
  forced_fatal_signal = 0;
  signal!: signal_struct;
  /** lockdep's held_locks: the locks this task holds (or waits for, for a mutex),
   *  oldest first (kernel/locking/lockdep). */
  readonly held_locks: held_lock[] = [];
  /** A kernel error thrown out of a system call or fault, so the task body rethrows it. */
  kernel_error: unknown = null;
  ctx!: Context;

  /** Thread-group id: the pid of the group leader, what getpid() returns. */
  tgid: number;
  /** The thread whose pid is the process's pid (itself for a single-threaded task). */
  group_leader: task_struct = this;
  /** Signal sent to the parent at exit: SIGCHLD for a process, -1 for a thread (which
   *  nobody waits for: it is released as soon as it is dead). */
  exit_signal = 17;
  /** CLONE_CHILD_SETTID: the child writes its tid here when it first runs (0 = NULL). */
  set_child_tid = 0;
  /** CLONE_CHILD_CLEARTID / set_tid_address: at exit, 0 is written here and one futex
   *  waiter on it is woken (pthread_join's wait). */
  clear_child_tid = 0;
  readonly thread: thread_struct = { fsbase: 0, sp: 0 };

  constructor(
    readonly pid: number,
    public comm: string,
  ) {
    this.tgid = pid;
  }

  get state(): number {
    return this.__state;
  }
}
