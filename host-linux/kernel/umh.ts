// kernel/umh.c (call_usermodehelper with UMH_WAIT_PROC) and the start of a user
// program: a kernel thread forks a process with a fresh address space, fd 0 on
// /dev/null and fd 1, 2 on host pipes, and waits for it.
//
// The program is the main thread's user-mode execution (kernel/entry/user_mode.ts):
// it reaches the kernel only through SYSCALL and page faults. When it returns, the
// process exits with that status as exit_group would (every thread it created goes
// too); faults and exceptions out of it end the process with a signal.

import type { HostPipe } from "../../machine/host_pipe.js";
import type { linux_kernel } from "../init/main.js";
import { ENOMEM } from "../include/linux/errno.js";
import { O_RDONLY } from "../include/linux/fs_types.js";
import type { task_struct } from "../include/linux/sched.js";
import { get_current } from "../arch/x86/kernel/percpu.js";
import { copy_process } from "./fork.js";
import { do_group_exit, kernel_wait4, WEXITSTATUS, WIFEXITED, WTERMSIG } from "./exit.js";
import { wake_up_new_task } from "./sched/core.js";
import { get_signal } from "./signal.js";
import { might_sleep } from "./sched/might_sleep.js";
import { enter_user_mode } from "./entry/user_mode.js";
import { mm_alloc } from "../mm/mm_struct.js";
import { pgd_free } from "../arch/x86/mm/pgtable.js";
import { files_struct } from "../fs/file.js";
import { fput } from "../fs/file_table.js";
import { filp_open } from "../fs/open.js";
import { hostpipe_file } from "../fs/hostpipe.js";

export type UserProgram = () => Promise<number>;

export interface ProcessStatus {
  exit_code: number | null;
  signal: number | null;
}

async function start_user_program(k: linux_kernel, program: UserProgram): Promise<number> {
  const tsk = get_current(k);
  const code = await enter_user_mode(k, program);
  // Returning from main is exit(code): the C runtime's exit() ends with exit_group, so
  // every thread of the process goes. A signal that arrived while the program ran in
  // user mode is taken on this way out.
  const sig = get_signal(tsk);
  return await do_group_exit(k, sig !== 0 ? sig : (code & 0xff) << 8);
}

/** Fork a user process running `program` as a child of the current task: the task or -errno. */
export async function user_process_spawn(k: linux_kernel, comm: string, program: UserProgram, stdout: HostPipe, stderr: HostPipe): Promise<task_struct | number> {
  might_sleep(k, "kernel/umh.c:call_usermodehelper_exec");
  const mm = mm_alloc(k);
  if (mm === null) return -ENOMEM;
  const files = new files_struct();
  const nul = await filp_open(k, "/dev/null", O_RDONLY);
  if (typeof nul === "number") {
    pgd_free(k, mm);
    return nul;
  }
  const out = hostpipe_file(k, stdout, "pipe:[stdout]");
  const err = hostpipe_file(k, stderr, "pipe:[stderr]");
  files.fdt[0] = nul;
  files.fdt[1] = out;
  files.fdt[2] = err;
  const p = copy_process(k, { comm, kthread: false, parent: get_current(k), mm, files, fn: () => start_user_program(k, program) });
  if (typeof p === "number") {
    for (const f of files.fdt) if (f) await fput(k, f);
    pgd_free(k, mm);
    return p;
  }
  wake_up_new_task(k, p);
  return p;
}

export function decode_status(status: number): ProcessStatus {
  return WIFEXITED(status) ? { exit_code: WEXITSTATUS(status), signal: null } : { exit_code: null, signal: WTERMSIG(status) };
}

/** fork + exec + wait4. */
export async function run_process(k: linux_kernel, comm: string, program: UserProgram, stdout: HostPipe, stderr: HostPipe): Promise<ProcessStatus> {
  const p = await user_process_spawn(k, comm, program, stdout, stderr);
  if (typeof p === "number") throw new Error(`run_process ${comm}: fork failed (${p})`);
  const status = await kernel_wait4(k, p.pid);
  return decode_status(status);
}
