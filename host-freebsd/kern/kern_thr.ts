// sys/kern/kern_thr.c: threads of a user process (libthr's system calls).
//   thr_new   a new thread of the calling process starting at the given code, with its
//             tid stored at child_tid and parent_tid
//   thr_exit  end the calling thread; *state = 1 and a umtx wake on it (what
//             pthread_join waits for). The last thread's thr_exit is ignored, as in
//             FreeBSD (libthr then calls exit).
//   thr_self, thr_kill, thr_kill2
// In the model the start routine is a UserEntry the program passes with the system
// call (machine/syscall.ts syscall_with_entry), not thr_param.start_func.

import type { UserEntry } from "../../machine/syscall.js";
import { curkernel } from "../sys/pcpu.js";
import { EFAULT, EINVAL } from "../sys/errno.js";
import type { thread } from "../sys/proc.js";
import { copyin, copyout } from "../amd64/support.js";
import { thread_create, thread_exit } from "./kern_thread.js";
import { sched_add } from "./sched_ule.js";
import { exit1 } from "./kern_exit.js";
import { kern_umtx_wake } from "./kern_umtx.js";
import { run_user_code } from "./kern_exec.js";

/** sizeof(struct thr_param) on amd64. */
export const THR_PARAM_SIZE = 104;

function suword64(uaddr: number, v: bigint): number {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, v, true);
  return copyout(b, uaddr);
}

/** kern_thr_exit: the calling thread ends (state: the user word to set, or 0). */
export async function kern_thr_exit(td: thread, state: number): Promise<number> {
  if (state !== 0) {
    suword64(state, 1n);
    kern_umtx_wake(td, state, 0x7fffffff);
  }
  if (td.td_proc.p_threads.length === 1) return 0;
  thread_exit();
  return new Promise<number>(() => {});
}

export async function sys_thr_new(td: thread, param: number, param_size: number, code: UserEntry | undefined): Promise<number> {
  if (code === undefined || param_size < THR_PARAM_SIZE) return EINVAL;
  const b = new Uint8Array(THR_PARAM_SIZE);
  if (copyin(param, b) !== 0) return EFAULT;
  const v = new DataView(b.buffer);
  const child_tid = Number(v.getBigUint64(48, true));
  const parent_tid = Number(v.getBigUint64(56, true));
  const k = curkernel();
  const p = td.td_proc;
  const newtd: thread = thread_create(k, p, p.p_comm, async () => {
    await run_user_code(newtd, code);
    // Returning from the start routine: libthr's thr_exit, and exit(0) for the last.
    if (p.p_threads.length === 1) await exit1(newtd, 0, 0);
    await kern_thr_exit(newtd, 0);
  });
  newtd.td_lastcpu = td.td_lastcpu;
  for (const at of [child_tid, parent_tid])
    if (at !== 0 && suword64(at, BigInt(newtd.td_tid)) !== 0) {
      p.p_threads.splice(p.p_threads.indexOf(newtd), 1);
      return EFAULT;
    }
  sched_add(k, newtd);
  return 0;
}

export function sys_thr_self(td: thread, id: number): number {
  return suword64(id, BigInt(td.td_tid));
}
