// sys/kern/kern_fork.c + kern_exec.c + the console tty, reduced to what the model's
// rc needs: fork a process from a kernel thread, "exec" a UserProgram in it (its main
// thread runs the program on a new user address space), and wait for it.
//
// A UserProgram reaches the kernel only through machine/syscall.ts. If it throws
// UserFault (an unresolvable user-mode fault) the process dies of SIGSEGV; any other
// exception is a bug in the program: SIGABRT, with the error on its stderr. Kernel
// panics and machine checks raised inside system calls stop the machine.

import { UserFault } from "../../machine/syscall.js";
import { MachineCheck } from "../../machine/phys_mem.js";
import type { HostPipe } from "../../machine/host_pipe.js";
import { curkernel, curthread } from "../sys/pcpu.js";
import { ENOMEM } from "../sys/errno.js";
import { FREAD, FWRITE, O_RDONLY } from "../sys/fcntl.js";
import { DTYPE_PIPE, type fileops } from "../sys/file.js";
import { proc, type thread } from "../sys/proc.js";
import { SIGABRT, SIGSEGV } from "../sys/signal.js";
import { KernelPanic, panic } from "./kern_shutdown.js";
import { falloc, fdinit, fdrop, finit, invfo_ioctl, invfo_mmap } from "./kern_descrip.js";
import { thread_create } from "./kern_thread.js";
import { sched_add } from "./sched_ule.js";
import { exit1, kern_wait } from "./kern_exit.js";
import { vmspace_alloc } from "../vm/vm_map.js";
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

/** fork1 + exec: a new process running `program`; returns it, runnable. */
export function fork_exec(comm: string, program: UserProgram, stdout: HostPipe, stderr: HostPipe): { error: number; p: proc | null } {
  const k = curkernel();
  const parent = curthread().td_proc;
  const vs = vmspace_alloc(k);
  if (vs === null) return { error: ENOMEM, p: null };
  const p = new proc(k.next_pid++, comm);
  p.p_vmspace = vs;
  p.p_fd = fdinit();
  p.p_pptr = parent;
  p.p_stdout = stdout;
  p.p_stderr = stderr;
  parent.p_children.push(p);
  k.allproc.push(p);
  const td = thread_create(k, p, comm, async () => {
    await open_stdio(td, stdout, stderr);
    let status = 0;
    try {
      status = await program();
    } catch (e) {
      if (e instanceof KernelPanic || e instanceof MachineCheck) throw e;
      if (e instanceof UserFault) await exit1(td, 0, SIGSEGV);
      const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
      stderr.write(new TextEncoder().encode(`${comm}: ${msg}\n`));
      await exit1(td, 0, SIGABRT);
    }
    await exit1(td, status, 0);
  });
  td.td_lastcpu = curthread().td_lastcpu;
  p.p_state = "PRS_NORMAL";
  sched_add(k, td);
  return { error: 0, p };
}

/** What boot/ calls: run `program` as a process and wait for it to end. */
export async function kern_run_process(comm: string, program: UserProgram, stdout: HostPipe, stderr: HostPipe): Promise<ProcessStatus> {
  const r = fork_exec(comm, program, stdout, stderr);
  if (r.error !== 0) panic(`run_process: fork failed with ${r.error}`);
  const w = await kern_wait(r.p!.p_pid);
  const p = w.p!;
  return p.p_xsig !== 0 ? { exit_code: null, signal: p.p_xsig } : { exit_code: p.p_xexit, signal: null };
}
