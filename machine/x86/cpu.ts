// One x86 CPU core as the kernels and the VT-x model see it: architectural state,
// the bus it reaches memory and I/O through, and the VMX non-root controls in force
// while it runs a guest. The instruction interpreter lives in interp.ts.

import type { PhysMem } from "../phys_mem.js";
import { X86State } from "./state.js";

/** What the CPU reaches outside itself. RAM is the machine's; port I/O and MMIO go to
 *  whatever devices the owner of the bus attached (on a bare machine, the PC's devices). */
export interface Bus {
  readonly ram: PhysMem;
  /** Physical address that is not RAM (an MMIO hole or beyond RAM). */
  mmio_read(addr: number, size: 1 | 2 | 4): number;
  mmio_write(addr: number, size: 1 | 2 | 4, value: number): void;
  io_in(port: number, size: 1 | 2 | 4): number;
  io_out(port: number, size: 1 | 2 | 4, value: number): void;
}

/** VMX execution controls the interpreter must honour in VMX non-root operation.
 *  Which events cause a VM exit instead of executing; the VMX model (vmx.ts) turns
 *  the resulting Stop into an exit reason and qualification. */
export interface NonRootControls {
  /** Unconditional I/O exiting: every IN/OUT/INS/OUTS exits before it executes. */
  io_exiting: boolean;
  hlt_exiting: boolean;
  /** Bit n set: exception vector n exits instead of going through the guest IDT. */
  exception_bitmap: number;
  invlpg_exiting: boolean;
  cr3_load_exiting: boolean;
  cr3_store_exiting: boolean;
  /** CR0/CR4 bits owned by the host: guest writes that change them exit; guest reads see the shadow. */
  cr0_guest_host_mask: number;
  cr0_read_shadow: number;
  cr4_guest_host_mask: number;
  cr4_read_shadow: number;
  /** Exit as soon as the guest can take an interrupt (RFLAGS.IF=1, no interrupt shadow). */
  interrupt_window_exiting: boolean;
  /** Single-step: a #DB after each instruction, delivered per exception_bitmap. */
}

/** Why CPU.run() returned. `insn_len` is the length of the instruction that caused it;
 *  EIP still points at that instruction (the VMX model reports it as the exit
 *  instruction length, and the hypervisor skips it). */
export type Stop =
  | { kind: "budget" }
  | { kind: "hlt"; insn_len: number }
  | { kind: "io"; port: number; size: 1 | 2 | 4; in: boolean; string: boolean; rep: boolean; imm: boolean; insn_len: number }
  | { kind: "exception"; vector: number; error_code: number | null; /** faulting linear address for #PF */ cr2?: number }
  | { kind: "triple_fault" }
  | { kind: "cpuid"; insn_len: number }
  | { kind: "rdtsc"; insn_len: number }
  | { kind: "rdmsr"; insn_len: number }
  | { kind: "wrmsr"; insn_len: number }
  | { kind: "invlpg"; insn_len: number; address: number }
  | { kind: "cr_access"; insn_len: number; /** Intel exit qualification for CR accesses */ qualification: number }
  | { kind: "interrupt_window" };

export class X86Cpu {
  state = new X86State();
  /** Non-null while in VMX non-root operation. */
  vmx: NonRootControls | null = null;
  /** Instructions retired since power-on. */
  insns_retired = 0;

  constructor(public bus: Bus) {}
}
