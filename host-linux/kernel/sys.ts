// kernel/sys.c, kernel/signal.c, kernel/sched/core.c, arch/x86/kernel/process_64.c:
// getpid(2), gettid(2), pause(2), sched_yield(2), arch_prctl(2).

import type { linux_kernel } from "../init/main.js";
import { EINVAL, EPERM, ERESTARTNOHAND } from "../include/linux/errno.js";
import { TASK_SIZE_MAX } from "../arch/x86/include/asm/page.js";
import { put_user_u64 } from "../lib/usercopy.js";
import { TASK_INTERRUPTIBLE, TASK_RUNNING, TIF_NEED_RESCHED } from "../include/linux/sched.js";
import { get_current } from "../arch/x86/kernel/percpu.js";
import { schedule, set_current_state } from "./sched/core.js";
import { signal_pending } from "./signal.js";

/** getpid: the process's id, which is its thread group's (the leader's pid). */
export async function sys_getpid(k: linux_kernel): Promise<number> {
  return get_current(k).tgid;
}

/** gettid: the calling thread's own id. */
export async function sys_gettid(k: linux_kernel): Promise<number> {
  return get_current(k).pid;
}

// arch_prctl codes (arch/x86/include/uapi/asm/prctl.h)
export const ARCH_SET_GS = 0x1001;
export const ARCH_SET_FS = 0x1002;
export const ARCH_GET_FS = 0x1003;
export const ARCH_GET_GS = 0x1004;

/** arch_prctl: ARCH_SET_FS / ARCH_GET_FS (the TLS base CLONE_SETTLS also sets). The GS
 *  codes and the rest are not modelled (-EINVAL, as for an unknown code). */
export async function sys_arch_prctl(k: linux_kernel, option: number, arg2: number): Promise<number> {
  const t = get_current(k);
  switch (option) {
    case ARCH_SET_FS:
      if (arg2 >= TASK_SIZE_MAX) return -EPERM;
      t.thread.fsbase = arg2;
      return 0;
    case ARCH_GET_FS:
      return put_user_u64(k, arg2, BigInt(t.thread.fsbase));
    default:
      return -EINVAL;
  }
}

/** pause: sleep until a signal arrives. */
export async function sys_pause(k: linux_kernel): Promise<number> {
  const me = get_current(k);
  while (!signal_pending(me)) {
    set_current_state(k, TASK_INTERRUPTIBLE);
    await schedule(k);
  }
  set_current_state(k, TASK_RUNNING);
  return -ERESTARTNOHAND;
}

export async function sys_sched_yield(k: linux_kernel): Promise<number> {
  get_current(k).thread_info.flags |= TIF_NEED_RESCHED;
  return 0;
}
