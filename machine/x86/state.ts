// Architectural state of one x86 CPU (i386 integer state; long mode may extend it).
// The interpreter (machine/x86/interp.ts) executes against this; the VT-x model
// (machine/x86/vmx.ts) copies it to and from a VMCS on VM entry and exit.

/** Segment register with its hidden part, in the VMX access-rights format:
 *  type[3:0] S[4] DPL[6:5] P[7] AVL[12] L[13] D/B[14] G[15] unusable[16]. */
export interface SegmentReg {
  selector: number;
  base: number;
  limit: number;
  attrib: number;
}

export interface DescriptorTable {
  base: number;
  limit: number;
}

// General-purpose register indices in x86 encoding order.
export const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;
// Segment register indices in x86 encoding order.
export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;

// EFLAGS bits.
export const FLAG_CF = 1 << 0;
export const FLAG_FIXED1 = 1 << 1; // always 1
export const FLAG_PF = 1 << 2;
export const FLAG_AF = 1 << 4;
export const FLAG_ZF = 1 << 6;
export const FLAG_SF = 1 << 7;
export const FLAG_TF = 1 << 8;
export const FLAG_IF = 1 << 9;
export const FLAG_DF = 1 << 10;
export const FLAG_OF = 1 << 11;
export const FLAG_IOPL = 3 << 12;
export const FLAG_NT = 1 << 14;
export const FLAG_RF = 1 << 16;
export const FLAG_VM = 1 << 17;
export const FLAG_AC = 1 << 18;
export const FLAG_ID = 1 << 21;

// CR0 / CR4 bits.
export const CR0_PE = 1 << 0;
export const CR0_MP = 1 << 1;
export const CR0_EM = 1 << 2;
export const CR0_TS = 1 << 3;
export const CR0_ET = 1 << 4;
export const CR0_NE = 1 << 5;
export const CR0_WP = 1 << 16;
export const CR0_AM = 1 << 18;
export const CR0_NW = 1 << 29;
export const CR0_CD = 1 << 30;
export const CR0_PG = 1 << 31;
export const CR4_VME = 1 << 0;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_PGE = 1 << 7;
export const CR4_VMXE = 1 << 13;

/** Real-mode segment for a selector: base = selector << 4, 64 KiB limit, read/write data or code. */
export function real_mode_segment(selector: number, code = false): SegmentReg {
  return { selector: selector & 0xffff, base: (selector & 0xffff) << 4, limit: 0xffff, attrib: code ? 0x9b : 0x93 };
}

export class X86State {
  /** EAX..EDI in encoding order, as unsigned 32-bit values. */
  readonly gpr = new Uint32Array(8);
  eip = 0xfff0;
  eflags = FLAG_FIXED1;
  /** ES, CS, SS, DS, FS, GS. */
  readonly seg: SegmentReg[] = [
    real_mode_segment(0),
    { selector: 0xf000, base: 0xffff0000, limit: 0xffff, attrib: 0x9b },
    real_mode_segment(0),
    real_mode_segment(0),
    real_mode_segment(0),
    real_mode_segment(0),
  ];
  ldtr: SegmentReg = { selector: 0, base: 0, limit: 0xffff, attrib: 0x82 };
  tr: SegmentReg = { selector: 0, base: 0, limit: 0xffff, attrib: 0x8b };
  gdtr: DescriptorTable = { base: 0, limit: 0xffff };
  idtr: DescriptorTable = { base: 0, limit: 0xffff };
  cr0 = CR0_ET | CR0_NW | CR0_CD;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  efer = 0n;
  readonly dr = [0, 0, 0, 0, 0, 0, 0xffff0ff0, 0x400];
  /** Interrupt shadow after STI / MOV SS: interrupts are held off for one instruction. */
  interruptibility = 0;
}

// Interruptibility-state bits (the VMCS guest interruptibility-state encoding).
export const BLOCKING_BY_STI = 1 << 0;
export const BLOCKING_BY_MOV_SS = 1 << 1;
