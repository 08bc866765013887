// sys/amd64/amd64/trap.c: the SYSCALL entry (amd64_syscall), user page faults
// (trap_pfault) and the return to user mode (userret + ast).
//
// Return convention: success clears the carry flag and returns td_retval[0] in rax;
// failure sets carry with the positive errno in rax. ERESTART becomes EINTR: the
// model's processes have no signal handlers that could ask for a restart.

import type { SyscallResult, UserEntry } from "../../machine/syscall.js";
import { MachineCheck } from "../../machine/phys_mem.js";
import { curkernel, curthread } from "../sys/pcpu.js";
import { EINTR, ENOSYS, ERESTART, EJUSTRETURN } from "../sys/errno.js";
import { P_SYSTEM, P_WEXIT, TDF_NEEDRESCHED, type thread } from "../sys/proc.js";
import { KernelPanic, panic } from "../kern/kern_shutdown.js";
import { sysent } from "../kern/init_sysent.js";
import { mi_switch } from "../kern/kern_synch.js";
import { exit1 } from "../kern/kern_exit.js";
import { SIGKILL } from "../sys/signal.js";
import { sigconsume, sigkill_pending } from "../kern/kern_sig.js";
import { vm_fault } from "../vm/vm_fault.js";
import { KERN_SUCCESS } from "./pmap.js";
import { PF_W } from "../../machine/x86/paging64.js";
import { VM_PROT_READ, VM_PROT_WRITE } from "../vm/vm_fault.js";

/** Cycles a SYSCALL/SYSRET round trip costs (the point where interrupts are taken). */
export const SYSCALL_COST = 150;

export async function amd64_syscall(nr: number, args: readonly bigint[], code?: UserEntry): Promise<SyscallResult> {
  const k = curkernel();
  const td = curthread();
  await k.machine.cpu_yield(SYSCALL_COST);
  // A thread entering the kernel of a process that is exiting leaves at once.
  if ((td.td_proc.p_flag & P_WEXIT) !== 0) await exit1(td, 0, 0);
  td.td_retval = [0n, 0n];
  td.td_sa = { code: nr, args };
  const call = sysent[nr];
  let error: number;
  try {
    error = call === undefined ? ENOSYS : await call(td, args, code);
  } catch (e) {
    if (e instanceof KernelPanic || e instanceof MachineCheck) throw e;
    // A bug in kernel code is a kernel crash, not the process's problem.
    panic(`fatal trap in system call ${nr} of ${td.td_proc.p_comm}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
  if (error === ERESTART) error = EINTR;
  await userret(td);
  if (error === 0 || error === EJUSTRETURN) return { rax: BigInt.asUintN(64, td.td_retval[0]), carry: false };
  return { rax: BigInt(error), carry: true };
}

/** userret + ast: checks on every return to user mode, then signals and rescheduling. */
export async function userret(td: thread): Promise<void> {
  if (td.td_locks.length > 0) panic(`userret: Returning with ${td.td_locks.length} locks held (${td.td_locks.map((l) => l.lo_name).join(", ")})`);
  if (td.td_critnest !== 0) panic(`userret: Returning in a critical section (td_critnest ${td.td_critnest})`);
  if (td.td_pinned !== 0) panic(`userret: Returning with pinned thread (td_pinned ${td.td_pinned})`);
  const p = td.td_proc;
  for (;;) {
    // thread_suspend_check: another thread is taking the process down.
    if ((p.p_flag & P_WEXIT) !== 0) await exit1(td, 0, 0);
    if (sigkill_pending(td)) await exit1(td, 0, SIGKILL);
    // postsig: other signals go to the process's (null) handlers.
    sigconsume(td);
    if ((td.td_flags & TDF_NEEDRESCHED) === 0) return;
    await mi_switch();
  }
}

/** trap_pfault for user addresses: resolve through vm_fault or refuse (SIGSEGV for
 *  user-mode accesses, EFAULT for copyin/copyout). */
export function trap_pfault(va: number, error_code: number): boolean {
  const td = curthread();
  const p = td.td_proc;
  if (p.p_flag & P_SYSTEM) return false;
  const ftype = error_code & PF_W ? VM_PROT_WRITE : VM_PROT_READ;
  return vm_fault(curkernel(), p.p_vmspace, va, ftype).rv === KERN_SUCCESS;
}
