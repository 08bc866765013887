// sys/sys/proc.h: struct proc and struct thread.
//
// Locking (the model's): fields are changed only in synchronous code, which cannot be
// interleaved with another CPU; what FreeBSD protects with the thread lock and
// proc lock is therefore consistent at every await.

import type { Context } from "../../machine/engine.js";
import type { HostPipe } from "../../machine/host_pipe.js";
import type { lock_object } from "./lock.js";
import type { filedesc } from "./file.js";
import type { vmspace } from "../vm/vm_map.js";

export type td_state_t = "TDS_INACTIVE" | "TDS_INHIBITED" | "TDS_CAN_RUN" | "TDS_RUNQ" | "TDS_RUNNING";

// td_flags
export const TDF_NEEDRESCHED = 0x00010000;
export const TDF_ASTPENDING = 0x00000800;
export const TDF_SINTR = 0x00000008;
export const TDF_TIMEOUT = 0x00000010;
export const TDF_IDLETD = 0x00000020;
// td_inhibitors
export const TDI_SLEEPING = 0x0002;
export const TDI_LOCK = 0x0008;

// p_flag
export const P_SYSTEM = 0x00200;
export const P_WEXIT = 0x02000;

export type p_state_t = "PRS_NEW" | "PRS_NORMAL" | "PRS_ZOMBIE";

export class thread {
  td_state: td_state_t = "TDS_INACTIVE";
  td_inhibitors = 0;
  td_flags = 0;
  /** CPU the thread runs on, or NOCPU. */
  td_oncpu = -1;
  /** CPU it last ran on: where sched_add puts it back while pinned. */
  td_lastcpu = -1;
  /** sched_pin() nesting: while > 0 the thread runs only on td_lastcpu (it may sleep). */
  td_pinned = 0;
  /** critical_enter() nesting: while > 0 no preemption, and sleeping panics. */
  td_critnest = 0;
  /** A preemption was requested inside a critical section. */
  td_owepreempt = false;
  /** spinlock_enter() nesting and the interrupt flag it saved (td_md). */
  td_md = { md_spinlock_count: 0, md_saved_flags: true };
  /** Wait channel and message while asleep. */
  td_wchan: unknown = null;
  td_wmesg: string | null = null;
  /** Why the last sleep ended: 0, EINTR/ERESTART (signal), EWOULDBLOCK (timeout). */
  td_slpret = 0;
  /** Lock (mtx) the thread is blocked on, through its turnstile. */
  td_blocked: lock_object | null = null;
  /** Locks held, most recent last: WITNESS's lock list. */
  readonly td_locks: lock_object[] = [];
  /** The system call in progress (struct syscall_args): its number and raw arguments. */
  td_sa: { code: number; args: readonly bigint[] } = { code: -1, args: [] };
  /** System call return values (rax, rdx). */
  td_retval: [bigint, bigint] = [0n, 0n];
  /** Signals sent to this thread alone (thr_kill); process-wide ones are in p_siglist. */
  readonly td_siglist = new Set<number>();
  /** LinuxKPI: the task_struct created for this thread on first use of `current`. */
  td_lkpi_task: unknown = null;
  td_name: string;
  constructor(
    readonly td_tid: number,
    name: string,
    public td_proc: proc,
    /** The kernel stack (machine-dependent pcb + stack). */
    public td_context: Context | null = null,
  ) {
    this.td_name = name;
  }
}

export class proc {
  p_state: p_state_t = "PRS_NEW";
  p_flag = 0;
  readonly p_threads: thread[] = [];
  p_pptr: proc | null = null;
  readonly p_children: proc[] = [];
  /** Pending signals (p_siglist). */
  readonly p_siglist = new Set<number>();
  /** exit(2) status and terminating signal, valid once a zombie. */
  p_xexit = 0;
  p_xsig = 0;
  p_fd!: filedesc;
  p_vmspace!: vmspace;
  /** Pipes for descriptors 1 and 2 of the first process (the model's console tty). */
  p_stdout: HostPipe | null = null;
  p_stderr: HostPipe | null = null;
  constructor(
    readonly p_pid: number,
    public p_comm: string,
  ) {}
}

export const TD_IS_IDLETHREAD = (td: thread) => (td.td_flags & TDF_IDLETD) !== 0;
