// The initial vcpu state a loader hands to whoever starts the guest: the VMM (which
// writes it with KVM_SET_REGS / KVM_SET_SREGS) or the bare machine (boot/bare.ts, which
// writes it into the CPU). Its fields are those of struct kvm_regs and struct kvm_sregs
// (include/uapi/linux/kvm.h), so the VMM copies them field for field; numbers are
// 32-bit unsigned values, as an i386 guest sees them.

/** struct kvm_segment: the hidden part of a segment register, `limit` in bytes. */
export interface SegmentState {
  selector: number;
  base: number;
  limit: number;
  /** Descriptor type (bits 3:0 of the access byte). */
  type: number;
  present: number;
  dpl: number;
  /** D/B: 32-bit default operand size (code) or stack (SS). */
  db: number;
  /** S: code or data (1), system (0). */
  s: number;
  l: number;
  g: number;
  avl: number;
}

/** struct kvm_dtable. */
export interface DtableState {
  base: number;
  limit: number;
}

export interface EntryRegs {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
  esi: number;
  edi: number;
  esp: number;
  ebp: number;
  eip: number;
  eflags: number;
}

export interface EntrySregs {
  cs: SegmentState;
  ds: SegmentState;
  es: SegmentState;
  fs: SegmentState;
  gs: SegmentState;
  ss: SegmentState;
  tr: SegmentState;
  ldt: SegmentState;
  gdt: DtableState;
  idt: DtableState;
  cr0: number;
  cr2: number;
  cr3: number;
  cr4: number;
}

export interface EntryState {
  regs: EntryRegs;
  sregs: EntrySregs;
}

/** A piece of guest-physical memory the loader fills. `rom`: the guest cannot write it
 *  (firmware); a VMM backs it with a read-only slot, the bare machine with a ROM device
 *  when it lies outside RAM. */
export interface GuestImage {
  bytes: Uint8Array;
  gpa: number;
  rom?: boolean;
}

/** What a loader produces: memory contents and the vcpu state to start from. */
export interface LoadedGuest {
  images: GuestImage[];
  entry: EntryState;
}

// EFLAGS bit 1 is reserved and reads as 1.
export const EFLAGS_RESERVED_1 = 0x2;
export const CR0_PE = 0x1;
export const CR0_ET = 0x10;
export const CR0_NW = 1 << 29;
export const CR0_CD = 1 << 30;

function seg(selector: number, base: number, limit: number, type: number, s: number, db: number, g: number): SegmentState {
  return { selector, base: base >>> 0, limit: limit >>> 0, type, present: 1, dpl: 0, db, s, l: 0, g, avl: 0 };
}

/** A real-mode segment: base = selector << 4, 64 KiB limit (read/write data, or
 *  execute/read code, accessed). */
export function real_mode_segment(selector: number, code = false): SegmentState {
  return seg(selector & 0xffff, (selector & 0xffff) << 4, 0xffff, code ? 0xb : 0x3, 1, 0, 0);
}

/** A flat 4 GiB ring-0 segment of the given selector: 32-bit execute/read code (type 0xb)
 *  or read/write data (type 0x3), both accessed, page granular. */
export function flat_segment(selector: number, code: boolean): SegmentState {
  return seg(selector, 0, 0xffffffff, code ? 0xb : 0x3, 1, 1, 1);
}

/** The unused LDTR and the TR the CPU has after reset (SDM Vol. 3A Table 9-1). */
export function reset_ldt(): SegmentState {
  return seg(0, 0, 0xffff, 0x2, 0, 0, 0);
}
export function reset_tr(): SegmentState {
  return seg(0, 0, 0xffff, 0xb, 0, 0, 0);
}

/** General registers all zero but EFLAGS bit 1. */
export function zero_regs(): EntryRegs {
  return { eax: 0, ebx: 0, ecx: 0, edx: 0, esi: 0, edi: 0, esp: 0, ebp: 0, eip: 0, eflags: EFLAGS_RESERVED_1 };
}

/** Real mode at cs:ip, all data segments = cs, interrupts off: how the VMM enters a flat
 *  image (the state `lkvm run FILE` uses for hello-real). */
export function real_mode_entry_state(cs: number, ip: number, sp = 0xfffe): EntryState {
  const regs = zero_regs();
  regs.eip = ip & 0xffff;
  regs.esp = sp;
  return {
    regs,
    sregs: {
      cs: real_mode_segment(cs, true),
      ds: real_mode_segment(cs),
      es: real_mode_segment(cs),
      fs: real_mode_segment(cs),
      gs: real_mode_segment(cs),
      ss: real_mode_segment(cs),
      tr: reset_tr(),
      ldt: reset_ldt(),
      gdt: { base: 0, limit: 0xffff },
      idt: { base: 0, limit: 0xffff },
      cr0: CR0_ET,
      cr2: 0,
      cr3: 0,
      cr4: 0,
    },
  };
}
