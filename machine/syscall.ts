// The user/kernel boundary as the CPU provides it: the SYSCALL instruction enters the
// kernel at the handler the kernel installed (MSR_LSTAR), and user-mode loads and
// stores go through the current page tables (CR3), faulting into the kernel's #PF
// handler. A simulated process reaches its kernel only through these functions; it
// never imports a kernel. Which kernel answers is whatever booted on the CPU.
//
// Return convention of the x86-64 ABIs: Linux returns -errno in RAX; FreeBSD sets
// the carry flag and returns errno in RAX. SyscallResult carries both registers; libc
// of each OS (userspace/libc/) interprets them.

import { current_cpu } from "./engine.js";
import { MachineCheck } from "./phys_mem.js";
import { walk64 } from "./x86/paging64.js";

export interface SyscallResult {
  rax: bigint;
  /** RFLAGS.CF on return (FreeBSD's error indication). */
  carry: boolean;
}

/** User-mode code a new thread starts at. User programs in this model are TypeScript,
 *  not x86, so where a C program passes a start routine's address (clone's child
 *  continuation, thr_new's start_func) a program passes this function instead: the
 *  model's stand-in for an instruction pointer into the process's text. It returns the
 *  thread's exit value. */
export type UserEntry = () => Promise<number>;

export type SyscallEntry = (nr: number, args: readonly bigint[], code?: UserEntry) => Promise<SyscallResult>;

/** The kernel's page-fault handler for host (non-guest) accesses: resolve the fault
 *  (map a page) and return true, or return false when the address is bad. Runs
 *  synchronously, like the fault path up to the point where it would sleep. */
export type PageFaultHandler = (va: number, error_code: number) => boolean;

/** Delivered to user code when a fault cannot be resolved: the kernel has posted
 *  SIGSEGV and the process will not run further. */
export class UserFault extends Error {
  constructor(readonly va: number, readonly error_code: number) {
    super(`segmentation fault at 0x${va.toString(16)} (error code ${error_code})`);
    this.name = "UserFault";
  }
}

/** SYSCALL: trap into the kernel of the current CPU. */
export function syscall(nr: number, ...args: (number | bigint)[]): Promise<SyscallResult> {
  const cpu = current_cpu();
  if (cpu.syscall_entry === null) throw new MachineCheck(`cpu${cpu.id}: SYSCALL with no kernel entry point (MSR_LSTAR unset)`);
  return cpu.syscall_entry(nr, args.map((a) => BigInt(a)));
}

/** SYSCALL for the calls that start a thread: `code` is where the new thread runs. */
export function syscall_with_entry(nr: number, code: UserEntry, ...args: (number | bigint)[]): Promise<SyscallResult> {
  const cpu = current_cpu();
  if (cpu.syscall_entry === null) throw new MachineCheck(`cpu${cpu.id}: SYSCALL with no kernel entry point (MSR_LSTAR unset)`);
  return cpu.syscall_entry(nr, args.map((a) => BigInt(a)), code);
}

/** Translate one user address on the current CPU, taking a page fault into the
 *  kernel if needed. Returns the physical address or null when the kernel could not
 *  resolve the fault. */
export function translate_user(va: number, write: boolean, user: boolean): number | null {
  const cpu = current_cpu();
  const ram = cpu.machine.ram;
  const cr3 = cpu.x86.state.cr3;
  for (let attempt = 0; attempt < 2; attempt++) {
    const w = walk64(ram, cr3, va, write, user);
    if (w.ok) return w.pa;
    if (attempt === 1 || cpu.page_fault_handler === null || !cpu.page_fault_handler(va, w.error_code)) return null;
  }
  return null;
}

/** Copy between a user virtual range and a byte buffer, one page at a time, the way a
 *  string of MOVs would. Returns the number of bytes NOT transferred (0 on success);
 *  a fault stops the copy at the faulting page. `user` is the CPL-3 flag: user code
 *  passes true, the kernel's copyin/copyout false. */
export function user_copy(va: number, buf: Uint8Array, to_user: boolean, user: boolean): number {
  const ram = current_cpu().machine.ram;
  let done = 0;
  while (done < buf.length) {
    const at = va + done;
    const n = Math.min(4096 - (at % 4096), buf.length - done);
    const pa = translate_user(at, to_user, user);
    if (pa === null) return buf.length - done;
    if (to_user) ram.write(pa as never, buf.subarray(done, done + n));
    else ram.read(pa as never, buf.subarray(done, done + n));
    done += n;
  }
  return 0;
}

/** User-mode load: SIGSEGV (UserFault) if the kernel cannot resolve the fault. */
export function user_load(va: number, dst: Uint8Array): void {
  const left = user_copy(va, dst, false, true);
  if (left !== 0) throw new UserFault(va + dst.length - left, 4);
}

/** User-mode store: SIGSEGV (UserFault) if the kernel cannot resolve the fault. */
export function user_store(va: number, src: Uint8Array): void {
  const left = user_copy(va, src, true, true);
  if (left !== 0) throw new UserFault(va + src.length - left, 6);
}
