// One x86 CPU core as the kernels and the VT-x model see it: architectural state,
// the bus it reaches memory and I/O through, and the VMX non-root controls in force
// while it runs a guest. The instruction interpreter lives in interp.ts.

import type { PhysMem } from "../phys_mem.js";
import { MsrFile } from "./msr.js";
import { X86State } from "./state.js";
import { inject_event, flush_tlb } from "./exceptions.js";

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
  /** RDTSC exits with {kind:"rdtsc"} (primary processor-based control bit 12). Absent means false. */
  rdtsc_exiting?: boolean;
  /** MOV to/from DR0-DR7 exits with {kind:"dr_access"} (primary control bit 23). Absent means false. */
  mov_dr_exiting?: boolean;
  /** "Enable EPT" (secondary control bit 1): host-physical address of the EPT PML4 table
   *  (EPTP bits 51:12). Every guest-physical address the CPU uses, guest paging-structure
   *  entries included, is translated through it. Absent or null: guest-physical = host-physical. */
  ept_root?: number | null;
}

/** An event whose delivery a VM exit interrupted (the IDT-vectoring information field,
 *  SDM 27.2.4): `info` in the interruption-information format (vector [7:0], type [10:8],
 *  error code valid [11], valid [31]); for software interrupts and exceptions, `insn_len`
 *  is the length of the instruction that raised it (the VM-exit instruction length). */
export interface IdtVectoring {
  info: number;
  error_code: number;
  insn_len: number;
}

/** Why CPU.run() returned. `insn_len` is the length of the instruction that caused it;
 *  EIP still points at that instruction (the VMX model reports it as the exit
 *  instruction length, and the hypervisor skips it). */
export type Stop =
  | { kind: "budget" }
  | { kind: "hlt"; insn_len: number }
  | { kind: "io"; port: number; size: 1 | 2 | 4; in: boolean; string: boolean; rep: boolean; imm: boolean; insn_len: number;
      /** INS/OUTS: address size (2 or 4) and the source segment of OUTS (ES for INS). */
      address_size?: 2 | 4; seg?: number }
  | { kind: "exception"; vector: number; error_code: number | null; /** faulting linear address for #PF */ cr2?: number;
      /** #DB: its conditions in DR6 layout (B0-B3, BD, BS), the exit qualification. */ dr6?: number;
      /** The event whose delivery raised this exception, if any (IDT-vectoring information). */
      vectoring?: IdtVectoring | null }
  | { kind: "triple_fault" }
  | { kind: "cpuid"; insn_len: number }
  | { kind: "rdtsc"; insn_len: number }
  | { kind: "rdmsr"; insn_len: number }
  | { kind: "wrmsr"; insn_len: number }
  | { kind: "invlpg"; insn_len: number; address: number }
  | { kind: "cr_access"; insn_len: number; /** Intel exit qualification for CR accesses */ qualification: number }
  /** MOV DR with MOV-DR exiting; the qualification: DR number [2:0], 1 = MOV from DR [4], GPR [11:8]. */
  | { kind: "dr_access"; insn_len: number; qualification: number }
  | { kind: "interrupt_window" }
  /** An access the EPT does not permit (or an entry not present); EIP names the
   *  instruction, which restarts. `qualification` is the Intel exit qualification. */
  | { kind: "ept_violation"; gpa: number; gla: number; qualification: number; vectoring: IdtVectoring | null }
  /** An EPT entry with an invalid setting (write without read, an unsupported memory
   *  type or page size, a reserved bit). */
  | { kind: "ept_misconfig"; gpa: number; vectoring: IdtVectoring | null };

export class X86Cpu {
  state = new X86State();
  /** Non-null while in VMX non-root operation. */
  vmx: NonRootControls | null = null;
  /** Instructions retired since power-on. */
  insns_retired = 0;
  /** The PC's A20 gate: ANDed into every physical address. 0xffefffff wraps at 1 MiB as an 8086 does. */
  a20_mask = 0xffffffff;
  /** External interrupt request (INTR with the vector the PIC would return on INTA), or -1.
   *  Taken between instructions when EFLAGS.IF=1 and no interrupt shadow is in force,
   *  outside VMX non-root operation; the interpreter clears it when it delivers it. */
  irq = -1;
  /** Vector of the last exception or interrupt the CPU delivered or exited on, or -1 (diagnostics). */
  last_event_vector = -1;

  /** Model-specific registers (RDMSR/WRMSR). */
  readonly msrs: MsrFile;

  /** @param tsc the time-stamp counter of the CPU this core belongs to (IA32_TSC, RDTSC). */
  constructor(
    public bus: Bus,
    readonly tsc: () => number = () => this.insns_retired,
  ) {
    this.msrs = new MsrFile(tsc);
  }

  /** Deliver an event now, through the IVT or IDT, as VM entry does with a valid
   *  VM-entry interruption-information field (SDM 26.6): `info` bits 7:0 vector, 10:8 type
   *  (0 external interrupt, 2 NMI, 3 hardware exception, 4 software interrupt, 5 privileged
   *  software exception, 6 software exception), bit 11 deliver error code, bit 31 valid.
   *  Software events return to EIP + insn_len. Returns false if delivery ended in a triple
   *  fault. A nested exception that the exception bitmap intercepts becomes the next Stop
   *  that execute() returns. */
  inject_event(info: number, error_code: number, insn_len: number): boolean {
    return inject_event(this, info, error_code, insn_len);
  }

  /** Invalidate this CPU's TLB (every entry, or all but global pages when `all` is false)
   *  and re-derive the interpreter's mode state: call after loading X86State from outside. */
  flush_tlb(all: boolean): void {
    flush_tlb(this, all);
  }
}
