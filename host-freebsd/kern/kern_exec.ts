// sys/kern/kern_exec.c + the console tty, reduced to what the model's rc needs: "exec"
// a UserProgram in a process fork1 made (its main thread runs the program on the new
// address space, with descriptors 0-2 set up), and run_process = fork1 + exec + wait.
//
// A UserProgram reaches the kernel only through machine/syscall.ts. If it throws
// UserFault (an unresolvable user-mode fault) the process dies of SIGSEGV; any other
// exception is a bug in the program: SIGABRT, with the error on its stderr. Kernel
// panics and machine checks raised inside system calls stop the machine.

import { UserFault } from "../../machine/syscall.js";
import { MachineCheck } from "../../machine/phys_mem.js";
import type { HostPipe } from "../../machine/host_pipe.js";
import { FREAD, FWRITE, O_RDONLY } from "../sys/fcntl.js";
import { DTYPE_PIPE, type fileops } from "../sys/file.js";
import type { proc, thread } from "../sys/proc.js";
import { SIGABRT, SIGSEGV } from "../sys/signal.js";
import { KernelPanic, panic } from "./kern_shutdown.js";
import { falloc, fdrop, finit, invfo_ioctl, invfo_mmap } from "./kern_descrip.js";
import { fork1 } from "./kern_fork.js";
import { exit1, kern_wait } from "./kern_exit.js";
import { kern_openat } from "./vfs_syscalls.js";

export type UserProgram = () => Promise<number>;

export interface ProcessStatus {
  exit_code: number | null;
  signal: number | null;
}

/** The console's file operations: a descriptor writing to a HostPipe. */
const hostpipe_ops: fileops = {
  name: "hostpipe",
  fo_read: async (_fp, _buf, td) => {
    td.td_retval[0] = 0n;
    return 0;
  },
  fo_write: async (fp, buf, td) => {
    (fp.f_data as HostPipe).write(buf.slice());
    td.td_retval[0] = BigInt(buf.length);
    return 0;
  },
  fo_ioctl: invfo_ioctl,
  fo_close: async () => 0,
  fo_mmap: invfo_mmap,
};

async function open_stdio(td: thread, stdout: HostPipe, stderr: HostPipe): Promise<void> {
  const error = await kern_openat(td, "/dev/null", O_RDONLY);
  if (error !== 0) panic(`exec: cannot open /dev/null for stdin (error ${error})`);
  for (const pipe of [stdout, stderr]) {
    const r = falloc(td);
    if (r.error !== 0) panic(`exec: falloc for stdio: ${r.error}`);
    finit(r.fp!, FREAD | FWRITE, DTYPE_PIPE, pipe, hostpipe_ops);
    await fdrop(r.fp!, td);
  }
}

/** Run user code in thread td and return its result. A UserFault kills the process
 *  with SIGSEGV; any other exception (a bug in the program) with SIGABRT, the error
 *  going to the process's stderr; kernel panics and machine checks propagate. */
export async function run_user_code(td: thread, code: () => Promise<number>): Promise<number> {
  const p = td.td_proc;
  try {
    return await code();
  } catch (e) {
    if (e instanceof KernelPanic || e instanceof MachineCheck) throw e;
    if (e instanceof UserFault) return exit1(td, 0, SIGSEGV);
    const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
    p.p_stderr?.write(new TextEncoder().encode(`${p.p_comm}: ${msg}\n`));
    return exit1(td, 0, SIGABRT);
  }
}

/** exec of a UserProgram in the new process's main thread: stdio, then the program,
 *  then exit with its status (returning from main calls exit). */
async function exec_user_program(td: thread, program: UserProgram, stdout: HostPipe, stderr: HostPipe): Promise<void> {
  const p = td.td_proc;
  p.p_stdout = stdout;
  p.p_stderr = stderr;
  await open_stdio(td, stdout, stderr);
  const status = await run_user_code(td, program);
  await exit1(td, status, 0);
}

/** fork1 + exec: a new process running `program`; returns it, runnable. */
export function fork_exec(comm: string, program: UserProgram, stdout: HostPipe, stderr: HostPipe): { error: number; p: proc | null } {
  return fork1(comm, (td) => exec_user_program(td, program, stdout, stderr));
}

/** What boot/ calls: run `program` as a process and wait for it to end. */
export async function kern_run_process(comm: string, program: UserProgram, stdout: HostPipe, stderr: HostPipe): Promise<ProcessStatus> {
  const r = fork_exec(comm, program, stdout, stderr);
  if (r.error !== 0) panic(`run_process: fork failed with ${r.error}`);
  const w = await kern_wait(r.p!.p_pid);
  const p = w.p!;
  return p.p_xsig !== 0 ? { exit_code: null, signal: p.p_xsig } : { exit_code: p.p_xexit, signal: null };
}
