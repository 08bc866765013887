// The user-mode execution of a task. User programs of this model are TypeScript
// functions (machine/syscall.ts UserEntry) that reach the kernel only through SYSCALL
// and page faults; running one is what "returning to user mode at the task's
// instruction pointer" means here.
//
// What can come out of user mode: a return value (the code reached the end of the
// function; the caller decides what that means: exit_group for a process's main, exit
// for a thread's start routine, as the C runtime and glibc's clone() do); a UserFault
// (the kernel refused a fault and posted SIGSEGV/SIGBUS/SIGKILL: the whole thread group
// dies of it); any other exception, which is a bug in the program: the process dies of
// SIGABRT with the error on its stderr, as abort() would report it. Errors thrown by the
// kernel itself (panics, machine checks) pass through and stop the machine.

import type { HostPipe } from "../../../machine/host_pipe.js";
import { MachineCheck } from "../../../machine/phys_mem.js";
import { UserFault, type UserEntry } from "../../../machine/syscall.js";
import type { linux_kernel } from "../../init/main.js";
import { SIGABRT, SIGSEGV } from "../../include/linux/signal.js";
import { get_current } from "../../arch/x86/kernel/percpu.js";
import { KernelPanic } from "../panic.js";
import { do_group_exit } from "../exit.js";

/** Run `code` in user mode on the current task: its return value. A task whose user
 *  code faults or throws does not come back (it exits through do_group_exit). */
export async function enter_user_mode(k: linux_kernel, code: UserEntry): Promise<number> {
  const tsk = get_current(k);
  try {
    return await code();
  } catch (e) {
    if (e === tsk.kernel_error || e instanceof KernelPanic || e instanceof MachineCheck || k.panicked) throw e;
    if (e instanceof UserFault) return await do_group_exit(k, tsk.forced_fatal_signal || SIGSEGV);
    const stderr = tsk.files?.fdt[2];
    const text = `${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`;
    const pipe = stderr?.f_path === "pipe:[stderr]" ? (stderr.private_data as HostPipe) : null;
    pipe?.write(new TextEncoder().encode(text));
    return await do_group_exit(k, SIGABRT);
  }
}
