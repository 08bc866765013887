// kernel/entry/common.c, arch/x86/entry/common.c: system-call entry and the way back
// to user mode.
//
// Entry charges the CPU the cost of a kernel crossing (letting simulated time pass, so
// the tick and IPIs are taken), dispatches through sys_call_table and, on the way out,
// loops in exit_to_user_mode_loop: reschedule while TIF_NEED_RESCHED is set (the
// preemption point of a PREEMPT_NONE kernel), deliver pending signals (a fatal one
// ends the thread group here and the system call never returns to the program). Returning to
// user mode with a lock held or preemption disabled is a bug.

import type { SyscallEntry, SyscallResult, UserEntry } from "../../../machine/syscall.js";
import type { linux_kernel } from "../../init/main.js";
import { EINTR, ENOSYS, ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS } from "../../include/linux/errno.js";
import { TIF_NEED_RESCHED, TIF_SIGPENDING, type task_struct } from "../../include/linux/sched.js";
import { get_current } from "../../arch/x86/kernel/percpu.js";
import { sys_call_table } from "../../arch/x86/entry/syscall_64.js";
import { BUG } from "../panic.js";
import { held_lock_names, lockdep_sys_exit } from "../locking/lockdep.js";
import { schedule } from "../sched/core.js";
import { get_signal } from "../signal.js";
import { do_group_exit } from "../exit.js";

/** Cycles a SYSCALL/SYSRET round trip costs the CPU. */
export const SYSCALL_COST = 100;

export function entry_SYSCALL_64(k: linux_kernel): SyscallEntry {
  return async (nr: number, args: readonly bigint[], code?: UserEntry): Promise<SyscallResult> => {
    if (k.panic_error !== null) throw k.panic_error;
    const tsk = get_current(k);
    try {
      await k.machine.cpu_yield(SYSCALL_COST);
      const fn = sys_call_table[nr];
      let ret = fn === undefined ? -ENOSYS : await fn(k, args, code);
      ret = await syscall_exit_to_user_mode(k, tsk, ret);
      return { rax: BigInt.asUintN(64, BigInt(ret)), carry: false };
    } catch (e) {
      tsk.kernel_error = e;
      throw e;
    }
  };
}

/** exit_to_user_mode_loop with arch_do_signal_or_restart; returns the value for RAX. */
export async function syscall_exit_to_user_mode(k: linux_kernel, tsk: task_struct, ret: number): Promise<number> {
  for (;;) {
    const flags = tsk.thread_info.flags;
    if (flags & TIF_NEED_RESCHED) {
      await schedule(k);
      continue;
    }
    if (flags & TIF_SIGPENDING) {
      // A fatal signal takes the whole thread group down (do_group_exit).
      const sig = get_signal(tsk);
      if (sig !== 0) await do_group_exit(k, sig);
      // Interrupted by a (caught) signal: restartable errors become -EINTR.
      if (ret === -ERESTARTSYS || ret === -ERESTARTNOHAND || ret === -ERESTARTNOINTR) ret = -EINTR;
      continue;
    }
    break;
  }
  if (ret === -ERESTARTSYS || ret === -ERESTARTNOHAND || ret === -ERESTARTNOINTR) ret = -EINTR;
  lockdep_sys_exit(k);
  if (tsk.thread_info.preempt_count !== 0 || tsk.held_locks.length > 0)
    BUG(k, `lock held when returning to user space!`,
      `${tsk.comm}/${tsk.pid} is leaving the kernel with preempt_count ${tsk.thread_info.preempt_count} and locks held: ${held_lock_names(tsk) || "none"}`);
  return ret;
}
