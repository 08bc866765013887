// What boot/ needs from a host kernel, whichever it is. Each kernel offers this
// through its own entry points (host-freebsd/boot.ts, host-linux/boot.ts); the
// adapters in boot/ present both the same way, so the rest of boot/ and the lkvm
// command never ask which host they run on.

import type { Machine } from "../machine/engine.js";
import type { HostPipe } from "../machine/host_pipe.js";

/** A user program: runs as the main thread of a simulated process, reaches the kernel
 *  only through machine/syscall.ts, and returns its exit status. */
export type UserProgram = () => Promise<number>;

/** One process of a run with several. */
export interface UserProcessSpec {
  comm: string;
  program: UserProgram;
  stdout: HostPipe;
  stderr: HostPipe;
}

export interface ProcessStatus {
  /** Exit status passed to exit(2), if the process exited. */
  exit_code: number | null;
  /** Signal that terminated it, if it was killed. */
  signal: number | null;
}

export interface HostKernel {
  readonly name: "freebsd" | "linux";
  readonly machine: Machine;
  /** Run `main` in the kernel's first thread once the kernel is up (the rc script of
   *  this model). Machine.run() drives everything; `main` should return when done. */
  start(main: () => Promise<void>): void;
  /** From kernel-thread context: load the KVM module stack with kvm's module parameters
   *  (FreeBSD: kenv compat.linuxkpi.kvm_<name>=<value>, then kldload of kvm.ko, which
   *  pulls in linuxkpi.ko; Linux: insmod kvm name=value ...). 0 or a positive errno. */
  load_kvm(params?: Readonly<Record<string, string>>): Promise<number>;
  unload_kvm(): Promise<number>;
  /** From kernel-thread context: fork+exec a process running `program` with fd 0, 1, 2
   *  on the given pipes, wait for it, and return how it ended. */
  run_process(comm: string, program: UserProgram, stdout: HostPipe, stderr: HostPipe): Promise<ProcessStatus>;
  /** From kernel-thread context: fork+exec every program at once (they run
   *  concurrently), then wait for each; their statuses in the same order. */
  run_processes(list: readonly UserProcessSpec[]): Promise<ProcessStatus[]>;
  /** Physical pages not allocated to anyone (for leak checks across a run). */
  free_page_count(): number;
  /** The kernel message buffer. */
  dmesg(): string;
}
