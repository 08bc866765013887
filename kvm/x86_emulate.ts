// drivers/kvm/x86_emulate.c (seed 002, PATCH 6/7): the instruction emulator kvm uses when a
// guest touches a guest-physical address that no memory slot backs (MMIO). As in the
// original, it is a decoder plus an executor that reaches guest memory only through an
// ops table; as in modern KVM, its state lives in a ctxt that survives exits to userspace,
// so one instruction may need several MMIO round trips (an ALU op on MMIO reads, then
// writes; MOVS between MMIO and RAM; REP STOS to MMIO does one exit per element).
// It is pure logic: no kernel API, no locks, nothing that sleeps.
//
// ---- API ------------------------------------------------------------------------------
//
//   const ctxt = new x86_emulate_ctxt();      // one per vcpu, kept across KVM_RUNs
//   ctxt.regs / eip / eflags / mode / seg[]   // load from the guest before x86_emulate_insn
//   x86_emulate_insn(ctxt, ops)               // decode at CS:EIP and execute
//   x86_emulate_complete_mmio_read(ctxt, ops, data)   // the VMM answered an mmio_read
//   x86_emulate_complete_mmio_write(ctxt, ops)        // the VMM took an mmio_write
//   x86_emulate_pending(ctxt)                 // "none" | "mmio_read" | "mmio_write"
//   x86_emulate_cancel(ctxt)                  // drop an instruction in flight (vcpu reset)
//
// Every call returns an x86_emulate_result:
//   done          the emulator is finished with this exit. `retired`: the instruction
//                 completed and ctxt.eip is past it; false: a REP instruction has elements
//                 left after X86EMUL_MAX_REP_ITERATIONS and ctxt.eip still names it, so
//                 re-entering the guest lets pending interrupts in; the guest re-executes
//                 the instruction, faults on MMIO again, and emulation resumes from the
//                 committed count registers (as hardware resumes an interrupted REP).
//   mmio_read     exit to userspace with KVM_EXIT_MMIO {phys_addr: gpa, len, is_write: 0};
//                 on the next KVM_RUN pass run.mmio.data to x86_emulate_complete_mmio_read.
//   mmio_write    exit with KVM_EXIT_MMIO {gpa, data, len, is_write: 1}; on the next KVM_RUN
//                 call x86_emulate_complete_mmio_write.
//   inject        queue the exception (vector, error_code; for #PF cr2 = faulting linear
//                 address) and re-enter the guest. EIP still names the instruction.
//   unhandleable  KVM_EXIT_INTERNAL_ERROR, suberror KVM_INTERNAL_ERROR_EMULATION; `why`
//                 names the opcode.
// After EVERY call the caller copies ctxt.regs, ctxt.eip and ctxt.eflags back to the
// guest (VMCS GUEST_RIP/GUEST_RFLAGS, vcpu->regs): the guest state is always the state
// committed so far, so KVM_GET_REGS between exits is consistent (EIP on the instruction
// while an MMIO read is outstanding; past it once its last MMIO write is handed out).
//
// ---- How the exits hang together ------------------------------------------------------
//
// An instruction executes in iterations: the whole instruction, or one element of a
// string instruction. An iteration reads memory as it goes, queues its writes, and commits
// (writes memory, then registers and EFLAGS, then EIP if the instruction is complete)
// only at its end. Hence:
// - An MMIO read suspends the iteration with nothing committed. Completion appends the
//   data to the iteration's read log and runs the iteration again from the committed
//   registers; every read it had already done (RAM or MMIO) is answered from the log, in
//   order, so no access is repeated towards the guest or the device (modern KVM's
//   mem_read cache). A log entry that no longer matches the access (the registers were
//   changed under the exit) makes the instruction unhandleable.
// - Writes are performed at commit, in program order. An MMIO write exits; when it is the
//   iteration's last write the registers are committed before the exit (MMIO writes are
//   posted: nothing the guest can see depends on the device having taken them).
// - A fault (segment check, #PF from the ops) aborts the iteration: nothing of it commits.
//   Elements of a REP instruction already done stay done, as on hardware.
// - Accesses are split at 4 KiB boundaries of the linear address, as KVM splits an
//   emulated access into page fragments: each piece is one ops call, so an MMIO operand
//   that crosses a page makes two exits.
//
// ---- The ops (what kvm/vmx.ts provides) -----------------------------------------------
//
// Linear addresses in, with the caller doing the guest page walk (at the guest's CPL,
// setting accessed/dirty bits) and the memory-slot lookup; no range crosses a page.
//   fetch(linear, n)   instruction bytes; "mmio" there makes the instruction unhandleable.
//   read(linear, n)    RAM bytes, or the gpa of MMIO, or the fault to inject.
//   write(linear, b)   performs a RAM write, or reports the gpa of MMIO (no effect), or a fault.
// Segmentation (limits, types, the SS-vs-GP rule) is the emulator's: ctxt.seg carries the
// hidden segment registers in VMX access-rights format.
//
// Single-step and interrupt shadows are the caller's: when an instruction retires with
// EFLAGS.TF set, a #DB trap is due; a retired instruction ends any STI/MOV-SS blocking.

import { CS, SS, x86_decode_insn, type x86_emul_byte_source, type x86_insn } from "./x86_emulate_decode.js";
import { x86_exec_iteration, type x86_emul_env } from "./x86_emulate_exec.js";
import {
  GP_VECTOR, PF_VECTOR, SS_VECTOR, x86_emul_fault, x86_emul_suspend, x86_emul_unhandleable, emul_gp0, emul_unhandleable,
} from "./x86_emulate_fault.js";
import { EFLG_RF, EFLG_VM } from "./x86_emulate_flags.js";

// Execution modes, as the original x86_emulate.h numbers them (plus VM86 of later kernels).
export const X86EMUL_MODE_REAL = 0;
export const X86EMUL_MODE_VM86 = 1;
export const X86EMUL_MODE_PROT16 = 2;
export const X86EMUL_MODE_PROT32 = 4;

/** Elements of a REP instruction done per emulation before the guest is re-entered. */
export const X86EMUL_MAX_REP_ITERATIONS = 1024;

/** A segment register's hidden part. attrib in VMX access-rights format: type[3:0] S[4]
 *  DPL[6:5] P[7] AVL[12] L[13] D/B[14] G[15] unusable[16]. limit is the byte-granular
 *  limit (G already applied). */
export interface x86_emulate_segment {
  base: number;
  limit: number;
  attrib: number;
}

export interface x86_emulate_fault_report {
  kind: "fault";
  vector: number;
  error_code: number | null;
  /** For #PF: the faulting linear address (defaults to the start of the access). */
  cr2?: number;
}

export type x86_emulate_read_result = { kind: "ram"; bytes: Uint8Array } | { kind: "mmio"; gpa: number } | x86_emulate_fault_report;
export type x86_emulate_write_result = { kind: "ram" } | { kind: "mmio"; gpa: number } | x86_emulate_fault_report;

export interface x86_emulate_ops {
  /** Instruction bytes at a linear address (n bytes, within one page). */
  fetch(linear: number, n: number): x86_emulate_read_result;
  /** Data read at a linear address (n <= 4 bytes, within one page). */
  read(linear: number, n: number): x86_emulate_read_result;
  /** Data write at a linear address (within one page): performed if RAM. */
  write(linear: number, bytes: Uint8Array): x86_emulate_write_result;
}

export type x86_emulate_result =
  | { kind: "done"; retired: boolean }
  | { kind: "mmio_read"; gpa: number; len: number }
  | { kind: "mmio_write"; gpa: number; len: number; data: Uint8Array }
  | { kind: "inject"; vector: number; error_code: number | null; cr2?: number }
  | { kind: "unhandleable"; why: string };

interface read_log_entry {
  lin: number;
  len: number;
  bytes: Uint8Array;
}

interface write_piece {
  lin: number;
  bytes: Uint8Array;
}

const real_seg = (): x86_emulate_segment => ({ base: 0, limit: 0xffff, attrib: 0x93 });

export class x86_emulate_ctxt {
  // ---- guest state: loaded by the caller, committed by the emulator ----
  /** EAX ECX EDX EBX ESP EBP ESI EDI. */
  readonly regs = new Uint32Array(8);
  eip = 0;
  eflags = 2;
  /** X86EMUL_MODE_*: CR0.PE, EFLAGS.VM and CS.D (x86_emulate_mode). */
  mode = X86EMUL_MODE_REAL;
  /** ES CS SS DS FS GS. */
  readonly seg: x86_emulate_segment[] = [real_seg(), real_seg(), real_seg(), real_seg(), real_seg(), real_seg()];

  // ---- the instruction in flight (emulator-private) ----
  insn: x86_insn | null = null;
  /** EIP after the instruction in flight. */
  next_eip = 0;
  /** Reads the current iteration has done, replayed when it runs again after an MMIO read. */
  reads: read_log_entry[] = [];
  rd_pos = 0;
  pending_read: { lin: number; len: number; gpa: number } | null = null;
  pending_write = false;
  /** Writes of the iteration being committed, and how many are done. */
  wq: write_piece[] = [];
  wq_pos = 0;
  /** The iteration's results, committed once its writes are out. */
  readonly work_regs = new Uint32Array(8);
  work_eflags = 0;
  /** The iteration completes the instruction. */
  work_done = false;
  committed = true;
  /** Iterations done since x86_emulate_insn. */
  iterations = 0;
}

/** The emulation mode of a guest: real mode without CR0.PE, virtual-8086 with EFLAGS.VM,
 *  otherwise protected mode with CS.D choosing 16- or 32-bit defaults. */
export function x86_emulate_mode(cr0: number, eflags: number, cs_attrib: number): number {
  if ((cr0 & 1) === 0) return X86EMUL_MODE_REAL;
  if ((eflags & EFLG_VM) !== 0) return X86EMUL_MODE_VM86;
  return (cs_attrib & 0x4000) !== 0 ? X86EMUL_MODE_PROT32 : X86EMUL_MODE_PROT16;
}

export function x86_emulate_pending(ctxt: x86_emulate_ctxt): "none" | "mmio_read" | "mmio_write" {
  if (ctxt.insn === null) return "none";
  if (ctxt.pending_read !== null) return "mmio_read";
  return ctxt.pending_write ? "mmio_write" : "none";
}

export function x86_emulate_cancel(ctxt: x86_emulate_ctxt): void {
  ctxt.insn = null;
  ctxt.pending_read = null;
  ctxt.pending_write = false;
  ctxt.reads = [];
  ctxt.rd_pos = 0;
  ctxt.wq = [];
  ctxt.wq_pos = 0;
  ctxt.committed = true;
}

// ---- segmentation -----------------------------------------------------------------------

/** Segment checks (SDM Vol. 3A 5.3, 5.4) and the linear address. In real and virtual-8086
 *  mode only the limit counts. In protected mode an unusable, not-present or system
 *  segment admits nothing; a code segment is readable when type bit 1 is set and never
 *  writable; a data segment is writable when type bit 1 is set, and with type bit 2
 *  (expand-down) its valid offsets are limit+1 .. (B ? 0xffffffff : 0xffff). A violation
 *  is #SS(0) for SS, #GP(0) otherwise. Linear = base + offset, modulo 2^32. */
function linearize(ctxt: x86_emulate_ctxt, sreg: number, off: number, size: number, write: boolean): number {
  const s = ctxt.seg[sreg];
  let lo = 0, hi = s.limit >>> 0, ok = true;
  if (ctxt.mode !== X86EMUL_MODE_REAL && ctxt.mode !== X86EMUL_MODE_VM86) {
    const a = s.attrib;
    const type = a & 0xf;
    if ((a & 0x10000) !== 0 || (a & 0x80) === 0 || (a & 0x10) === 0) ok = false;
    else if ((type & 8) !== 0) ok = write ? false : (type & 2) !== 0;
    else {
      if ((type & 4) !== 0) {
        lo = hi + 1;
        hi = (a & 0x4000) !== 0 ? 0xffffffff : 0xffff;
      }
      ok = !write || (type & 2) !== 0;
    }
  }
  if (!ok || off < lo || off + size - 1 > hi) throw new x86_emul_fault(sreg === SS ? SS_VECTOR : GP_VECTOR, 0);
  return (s.base + off) >>> 0;
}

function page_pieces(lin: number, size: number): { lin: number; len: number }[] {
  const out: { lin: number; len: number }[] = [];
  let done = 0;
  while (done < size) {
    const plin = (lin + done) >>> 0;
    const len = Math.min(size - done, 4096 - (plin & 0xfff));
    out.push({ lin: plin, len });
    done += len;
  }
  return out;
}

function fault_of(r: x86_emulate_fault_report, lin: number): x86_emul_fault {
  return new x86_emul_fault(r.vector, r.error_code, r.vector === PF_VECTOR ? (r.cr2 ?? lin) >>> 0 : undefined);
}

// ---- instruction fetch ------------------------------------------------------------------

/** Instruction bytes at CS:EIP+i. Each offset must lie within the CS limit (#GP(0)); in
 *  16-bit code the offset does not wrap at 64 KiB, in 32-bit code it wraps at 4 GiB. Bytes
 *  are fetched a page piece at a time and only as the decoder needs them, so a short
 *  instruction at the end of a page does not touch the next one. */
class insn_fetcher implements x86_emul_byte_source {
  private readonly buf = new Uint8Array(15);
  private have = 0;
  constructor(
    private readonly ctxt: x86_emulate_ctxt,
    private readonly ops: x86_emulate_ops,
  ) {}

  byte(i: number): number {
    if (i < this.have) return this.buf[i];
    const ctxt = this.ctxt, cs = ctxt.seg[CS];
    const code32 = ctxt.mode === X86EMUL_MODE_PROT32;
    const off = code32 ? (ctxt.eip + i) >>> 0 : ctxt.eip + i;
    const limit = cs.limit >>> 0;
    if (off > limit) emul_gp0();
    const lin = (cs.base + off) >>> 0;
    const n = Math.min(15 - i, 4096 - (lin & 0xfff), limit - off + 1);
    const r = this.ops.fetch(lin, n);
    if (r.kind === "fault") throw fault_of(r, lin);
    if (r.kind === "mmio") emul_unhandleable(`instruction fetch from MMIO at gpa 0x${r.gpa.toString(16)}`);
    this.buf.set(r.bytes.subarray(0, n), i);
    this.have = i + n;
    return this.buf[i];
  }
}

// ---- one iteration's memory -------------------------------------------------------------

class iteration_env implements x86_emul_env {
  readonly regs: Uint32Array;
  eflags: number;
  constructor(
    private readonly ctxt: x86_emulate_ctxt,
    private readonly ops: x86_emulate_ops,
  ) {
    this.regs = Uint32Array.from(ctxt.regs);
    this.eflags = ctxt.eflags;
  }

  read(sreg: number, off: number, size: number): number {
    const lin = linearize(this.ctxt, sreg, off, size, false);
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const p of page_pieces(lin, size)) {
      bytes.set(this.read_piece(p.lin, p.len), at);
      at += p.len;
    }
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + bytes[i];
    return v;
  }

  private read_piece(lin: number, len: number): Uint8Array {
    const ctxt = this.ctxt;
    if (ctxt.rd_pos < ctxt.reads.length) {
      const ent = ctxt.reads[ctxt.rd_pos];
      if (ent.lin !== lin || ent.len !== len)
        emul_unhandleable(`read of ${len} bytes at 0x${lin.toString(16)} does not match the outstanding MMIO access (registers changed under the exit)`);
      ctxt.rd_pos++;
      return ent.bytes;
    }
    const r = this.ops.read(lin, len);
    switch (r.kind) {
      case "ram": {
        const bytes = r.bytes.slice(0, len);
        ctxt.reads.push({ lin, len, bytes });
        ctxt.rd_pos++;
        return bytes;
      }
      case "mmio":
        ctxt.pending_read = { lin, len, gpa: r.gpa };
        throw new x86_emul_suspend(r.gpa, len);
      default:
        throw fault_of(r, lin);
    }
  }

  write(sreg: number, off: number, size: number, v: number): void {
    const lin = linearize(this.ctxt, sreg, off, size, true);
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = Math.floor(v / 2 ** (8 * i)) & 0xff;
    let at = 0;
    for (const p of page_pieces(lin, size)) {
      this.ctxt.wq.push({ lin: p.lin, bytes: bytes.slice(at, at + p.len) });
      at += p.len;
    }
  }
}

// ---- the driver -------------------------------------------------------------------------

function stopped(ctxt: x86_emulate_ctxt, e: unknown): x86_emulate_result {
  if (e instanceof x86_emul_fault) {
    x86_emulate_cancel(ctxt);
    return e.cr2 === undefined
      ? { kind: "inject", vector: e.vector, error_code: e.error_code }
      : { kind: "inject", vector: e.vector, error_code: e.error_code, cr2: e.cr2 };
  }
  if (e instanceof x86_emul_unhandleable) {
    x86_emulate_cancel(ctxt);
    return { kind: "unhandleable", why: e.why };
  }
  throw e;
}

function commit(ctxt: x86_emulate_ctxt): void {
  ctxt.regs.set(ctxt.work_regs);
  ctxt.eflags = ctxt.work_eflags;
  ctxt.reads = [];
  ctxt.rd_pos = 0;
  // A completed instruction clears RF, as the CPU does when it starts the next one (the #PF
  // exit that led here saved RF=1, which would otherwise pass a breakpoint on the next one).
  if (ctxt.work_done) {
    ctxt.eip = ctxt.next_eip;
    ctxt.eflags = (ctxt.eflags & ~EFLG_RF) >>> 0;
  }
  ctxt.committed = true;
}

/** Perform the iteration's queued writes in order, then commit. Returns an exit, or null
 *  when everything is committed. */
function writeback(ctxt: x86_emulate_ctxt, ops: x86_emulate_ops): x86_emulate_result | null {
  while (ctxt.wq_pos < ctxt.wq.length) {
    const p = ctxt.wq[ctxt.wq_pos++];
    const r = ops.write(p.lin, p.bytes);
    if (r.kind === "fault") return stopped(ctxt, fault_of(r, p.lin));
    if (r.kind === "mmio") {
      if (ctxt.wq_pos === ctxt.wq.length) commit(ctxt);
      ctxt.pending_write = true;
      return { kind: "mmio_write", gpa: r.gpa, len: p.bytes.length, data: p.bytes.slice() };
    }
  }
  if (!ctxt.committed) commit(ctxt);
  return null;
}

/** After a commit: the instruction retired, or the REP budget ran out, or go on (null). */
function after_commit(ctxt: x86_emulate_ctxt): x86_emulate_result | null {
  if (ctxt.work_done) {
    ctxt.insn = null;
    return { kind: "done", retired: true };
  }
  if (++ctxt.iterations >= X86EMUL_MAX_REP_ITERATIONS) {
    ctxt.insn = null;
    return { kind: "done", retired: false };
  }
  return null;
}

function run(ctxt: x86_emulate_ctxt, ops: x86_emulate_ops): x86_emulate_result {
  const d = ctxt.insn!;
  for (;;) {
    const env = new iteration_env(ctxt, ops);
    ctxt.rd_pos = 0;
    ctxt.wq = [];
    ctxt.wq_pos = 0;
    let done: boolean;
    try {
      done = x86_exec_iteration(d, env);
    } catch (e) {
      if (e instanceof x86_emul_suspend) return { kind: "mmio_read", gpa: e.gpa, len: e.len };
      return stopped(ctxt, e);
    }
    ctxt.work_regs.set(env.regs);
    ctxt.work_eflags = env.eflags;
    ctxt.work_done = done;
    ctxt.committed = false;
    const r = writeback(ctxt, ops);
    if (r !== null) return r;
    const a = after_commit(ctxt);
    if (a !== null) return a;
  }
}

/** Emulate the instruction at CS:EIP of the state in ctxt (dropping any instruction still
 *  in flight). */
export function x86_emulate_insn(ctxt: x86_emulate_ctxt, ops: x86_emulate_ops): x86_emulate_result {
  x86_emulate_cancel(ctxt);
  ctxt.iterations = 0;
  const code32 = ctxt.mode === X86EMUL_MODE_PROT32;
  let d: x86_insn;
  try {
    d = x86_decode_insn(new insn_fetcher(ctxt, ops), code32);
  } catch (e) {
    return stopped(ctxt, e);
  }
  ctxt.insn = d;
  ctxt.next_eip = code32 ? (ctxt.eip + d.len) >>> 0 : (ctxt.eip + d.len) & 0xffff;
  return run(ctxt, ops);
}

/** The VMM answered the outstanding MMIO read with `data` (at least `len` bytes,
 *  little-endian, as in kvm_run.mmio.data): finish the instruction. */
export function x86_emulate_complete_mmio_read(ctxt: x86_emulate_ctxt, ops: x86_emulate_ops, data: Uint8Array): x86_emulate_result {
  const p = ctxt.pending_read;
  if (ctxt.insn === null || p === null) throw new Error("x86_emulate_complete_mmio_read: no MMIO read outstanding");
  if (data.length < p.len) throw new RangeError(`x86_emulate_complete_mmio_read: ${data.length} bytes for a ${p.len}-byte read`);
  ctxt.pending_read = null;
  ctxt.reads.push({ lin: p.lin, len: p.len, bytes: data.slice(0, p.len) });
  return run(ctxt, ops);
}

/** The VMM took the outstanding MMIO write: finish the instruction. */
export function x86_emulate_complete_mmio_write(ctxt: x86_emulate_ctxt, ops: x86_emulate_ops): x86_emulate_result {
  if (ctxt.insn === null || !ctxt.pending_write) throw new Error("x86_emulate_complete_mmio_write: no MMIO write outstanding");
  ctxt.pending_write = false;
  const r = writeback(ctxt, ops);
  if (r !== null) return r;
  const a = after_commit(ctxt);
  if (a !== null) return a;
  return run(ctxt, ops);
}
