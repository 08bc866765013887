// Unit tests of kvm/x86_emulate.ts per instruction family, with the exits a VMM sees:
// MMIO reads and writes (and how a multi-exit instruction resumes), REP with its count
// and budget, page-split accesses, faults, #UD forms and unhandleable opcodes.
import { describe, expect, it } from "vitest";
import {
  X86EMUL_MAX_REP_ITERATIONS, X86EMUL_MODE_PROT16, X86EMUL_MODE_PROT32, X86EMUL_MODE_REAL, X86EMUL_MODE_VM86,
  x86_emulate_cancel, x86_emulate_complete_mmio_read, x86_emulate_complete_mmio_write, x86_emulate_ctxt, x86_emulate_insn,
  x86_emulate_mode, x86_emulate_pending, type x86_emulate_ops,
} from "../../kvm/x86_emulate.js";
import { RAM_SIZE, flat_ops } from "./x86_emulate_oracle.js";

const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESI = 6, EDI = 7;
const ES = 0, CS = 1, SS = 2, DS = 3;
const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, DF = 0x400, OF = 0x800;
const MMIO = RAM_SIZE; // first MMIO address
const le = (v: number, n: number): number[] => Array.from({ length: n }, (_, i) => Math.floor(v / 2 ** (8 * i)) & 0xff);
const bytes = (v: number, n: number) => Uint8Array.from(le(v, n));

/** A guest: 32-bit flat protected mode (or 16-bit real mode) with code at linear 0x1000. */
function guest(code: number[], opts: { real?: boolean; pm16?: boolean } = {}) {
  const ram = new Uint8Array(RAM_SIZE);
  const calls: string[] = [];
  const ops = flat_ops(ram, calls);
  const ctxt = new x86_emulate_ctxt();
  if (opts.real) {
    ctxt.mode = X86EMUL_MODE_REAL;
    for (let i = 0; i < 6; i++) ctxt.seg[i] = { base: 0, limit: 0xffff, attrib: 0x93 };
    ctxt.seg[CS] = { base: 0x1000, limit: 0xffff, attrib: 0x9b };
    ctxt.eip = 0;
  } else if (opts.pm16) {
    ctxt.mode = X86EMUL_MODE_PROT16;
    for (let i = 0; i < 6; i++) ctxt.seg[i] = { base: 0x78000, limit: 0xffff, attrib: 0x93 };
    ctxt.seg[CS] = { base: 0x1000, limit: 0xffff, attrib: 0x9b };
    ctxt.eip = 0;
  } else {
    ctxt.mode = X86EMUL_MODE_PROT32;
    for (let i = 0; i < 6; i++) ctxt.seg[i] = { base: 0, limit: 0xffffffff, attrib: 0xc093 };
    ctxt.seg[CS] = { base: 0, limit: 0xffffffff, attrib: 0xc09b };
    ctxt.eip = 0x1000;
  }
  ram.set(code, 0x1000);
  return { ram, ops, ctxt, calls, start: ctxt.eip };
}

describe("MOV", () => {
  it("mov eax, [mmio] exits for a 4-byte read and completes with the data, advancing EIP", () => {
    const { ops, ctxt } = guest([0x8b, 0x05, ...le(MMIO + 0x10, 4)]);
    ctxt.regs[EAX] = 0xdeadbeef;
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "mmio_read", gpa: MMIO + 0x10, len: 4 });
    expect(x86_emulate_pending(ctxt)).toBe("mmio_read");
    expect(ctxt.eip).toBe(0x1000); // not retired while the read is outstanding
    expect(ctxt.regs[EAX]).toBe(0xdeadbeef);
    const data = new Uint8Array(8);
    data.set([0x78, 0x56, 0x34, 0x12]);
    expect(x86_emulate_complete_mmio_read(ctxt, ops, data)).toEqual({ kind: "done", retired: true });
    expect(ctxt.regs[EAX]).toBe(0x12345678);
    expect(ctxt.eip).toBe(0x1006);
    expect(x86_emulate_pending(ctxt)).toBe("none");
  });

  it("mov [bx+si+disp8], ax in real mode writes 2 bytes; the instruction has retired when the write exits", () => {
    const { ops, ctxt } = guest([0x89, 0x40, 0x10], { real: true });
    ctxt.seg[DS] = { base: 0x78000, limit: 0xffff, attrib: 0x93 };
    ctxt.regs[EBX] = 0xffff7000; // only BX counts
    ctxt.regs[ESI] = 0x0ff0; // 0x78000 + 0x7000 + 0xff0 + 0x10 = MMIO + 0x0
    ctxt.regs[EAX] = 0xaaaa1234;
    const r = x86_emulate_insn(ctxt, ops);
    expect(r).toEqual({ kind: "mmio_write", gpa: MMIO, len: 2, data: bytes(0x1234, 2) });
    expect(ctxt.eip).toBe(3); // posted write: committed before the exit
    expect(x86_emulate_pending(ctxt)).toBe("mmio_write");
    expect(x86_emulate_complete_mmio_write(ctxt, ops)).toEqual({ kind: "done", retired: true });
    expect(ctxt.eip).toBe(3);
  });

  it("16-bit EIP wraps at 64 KiB after the instruction", () => {
    const { ops, ctxt, ram } = guest([], { real: true });
    ctxt.seg[CS] = { base: 0x10000, limit: 0xffff, attrib: 0x9b };
    ctxt.eip = 0xfffc;
    ram.set([0x88, 0x07, 0x90, 0x90], 0x1fffc); // mov [bx], al
    ctxt.seg[DS] = { base: 0x80000, limit: 0xffff, attrib: 0x93 };
    expect(x86_emulate_insn(ctxt, ops).kind).toBe("mmio_write");
    expect(ctxt.eip).toBe(0xfffe);
  });

  it("moffs forms use the address size: 67 A1 in 16-bit code takes a 32-bit offset", () => {
    const { ops, ctxt } = guest([0x66, 0x67, 0xa1, ...le(0x8004, 4)], { real: true });
    ctxt.seg[DS] = { base: 0x78000, limit: 0xffff, attrib: 0x93 };
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "mmio_read", gpa: MMIO + 4, len: 4 });
    x86_emulate_complete_mmio_read(ctxt, ops, bytes(0xcafef00d, 4));
    expect(ctxt.regs[EAX]).toBe(0xcafef00d);
    expect(ctxt.eip).toBe(7);
  });

  it("a segment override applies to moffs; A2 stores AL", () => {
    const { ops, ctxt } = guest([0x64, 0xa2, ...le(0x100, 4)]);
    ctxt.seg[4] = { base: MMIO, limit: 0xffff, attrib: 0x93 };
    ctxt.regs[EAX] = 0x99;
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "mmio_write", gpa: MMIO + 0x100, len: 1, data: bytes(0x99, 1) });
  });

  it("C7 /0 stores an immediate of the operand size; SIB with scaled index and SS default for EBP base", () => {
    const { ops, ctxt } = guest([0x66, 0xc7, 0x44, 0xb5, 0x08, 0x34, 0x12]); // mov word [ebp+esi*4+8], 0x1234
    ctxt.seg[SS] = { base: 0x1000, limit: 0xffffffff, attrib: 0xc093 };
    ctxt.regs[5] = MMIO - 0x1000;
    ctxt.regs[ESI] = 2;
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "mmio_write", gpa: MMIO + 16, len: 2, data: bytes(0x1234, 2) });
    expect(ctxt.eip).toBe(0x1007);
  });

  it("8A into AH reads a byte into bits 15:8", () => {
    const { ops, ctxt } = guest([0x8a, 0x23]); // mov ah, [ebx]
    ctxt.regs[EBX] = MMIO;
    ctxt.regs[EAX] = 0x11223344;
    x86_emulate_insn(ctxt, ops);
    x86_emulate_complete_mmio_read(ctxt, ops, bytes(0xab, 1));
    expect(ctxt.regs[EAX]).toBe(0x1122ab44);
  });
});

describe("MOVZX / MOVSX", () => {
  const cases: [number[], number, number, number][] = [
    [[0x0f, 0xb6, 0x03], 1, 0x80, 0x00000080],
    [[0x0f, 0xbe, 0x03], 1, 0x80, 0xffffff80],
    [[0x0f, 0xb7, 0x03], 2, 0x8001, 0x00008001],
    [[0x0f, 0xbf, 0x03], 2, 0x8001, 0xffff8001],
    [[0x66, 0x0f, 0xbe, 0x03], 1, 0xfe, 0x1234fffe], // 16-bit destination keeps bits 31:16
  ];
  for (const [code, len, v, want] of cases) {
    it(`${code.map((b) => b.toString(16)).join(" ")} of 0x${v.toString(16)} gives 0x${want.toString(16)}`, () => {
      const { ops, ctxt } = guest(code);
      ctxt.regs[EBX] = MMIO + 8;
      ctxt.regs[EAX] = 0x12345678;
      expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "mmio_read", gpa: MMIO + 8, len });
      x86_emulate_complete_mmio_read(ctxt, ops, bytes(v, len));
      expect(ctxt.regs[EAX]).toBe(want);
    });
  }
});

describe("ALU with a memory operand", () => {
  /** Run a read-modify-write on MMIO: returns the written value (or null) and EFLAGS. */
  function rmw(code: number[], mem: number, size: number, setup: (c: x86_emulate_ctxt) => void = () => {}) {
    const { ops, ctxt } = guest(code);
    ctxt.regs[EBX] = MMIO + 0x20;
    setup(ctxt);
    let r = x86_emulate_insn(ctxt, ops);
    expect(r).toEqual({ kind: "mmio_read", gpa: MMIO + 0x20, len: size });
    r = x86_emulate_complete_mmio_read(ctxt, ops, bytes(mem, size));
    let written: number | null = null;
    if (r.kind === "mmio_write") {
      expect(r.gpa).toBe(MMIO + 0x20);
      expect(r.len).toBe(size);
      written = r.data.reduceRight((a, b) => a * 256 + b, 0);
      r = x86_emulate_complete_mmio_write(ctxt, ops);
    }
    expect(r).toEqual({ kind: "done", retired: true });
    return { written, flags: ctxt.eflags & (CF | PF | AF | ZF | SF | OF), ctxt };
  }

  it("add dword [ebx], -128 (83 /0): carry out of bit 31, as hardware computes it", () => {
    // 0xefa5a08d + 0xffffff80 = 0x1_efa5a00d
    expect(rmw([0x83, 0x03, 0x80], 0xefa5a08d, 4)).toMatchObject({ written: 0xefa5a00d, flags: CF | SF });
  });

  it("sub dword [ebx], 0x80000000 (81 /5): borrow and signed overflow", () => {
    expect(rmw([0x81, 0x2b, ...le(0x80000000, 4)], 0x12345678, 4)).toMatchObject({ written: 0x92345678, flags: CF | OF | SF | PF });
  });

  it("cmp [ebx], eax only reads and sets ZF PF on equality", () => {
    const r = rmw([0x39, 0x03], 0x1234, 4, (c) => { c.regs[EAX] = 0x1234; });
    expect(r.written).toBeNull();
    expect(r.flags).toBe(ZF | PF);
  });

  it("adc byte [ebx], al uses CF: 0xff + 0x00 + 1 = 0x00 with CF AF ZF PF", () => {
    const r = rmw([0x10, 0x03], 0xff, 1, (c) => { c.regs[EAX] = 0; c.eflags = 2 | CF; });
    expect(r).toMatchObject({ written: 0, flags: CF | AF | ZF | PF });
  });

  it("sbb word [ebx], 1 with CF: 0x8000 - 1 - 1 = 0x7ffe, OF and AF", () => {
    const r = rmw([0x66, 0x83, 0x1b, 0x01], 0x8000, 2, (c) => { c.eflags = 2 | CF; });
    expect(r).toMatchObject({ written: 0x7ffe, flags: OF | AF });
  });

  it("or/and/xor clear CF OF (and AF), set SF ZF PF from the result", () => {
    expect(rmw([0x09, 0x03], 0x80000000, 4, (c) => { c.regs[EAX] = 1; c.eflags = 2 | CF | OF | AF; })).toMatchObject({ written: 0x80000001, flags: SF });
    expect(rmw([0x21, 0x03], 0xf0, 4, (c) => { c.regs[EAX] = 0x0f; c.eflags = 2 | CF; })).toMatchObject({ written: 0, flags: ZF | PF });
    expect(rmw([0x30, 0x23], 0x0f, 1, (c) => { c.regs[EAX] = 0x0100; })).toMatchObject({ written: 0x0e, flags: 0 });
  });

  it("add eax, [ebx] (03) puts the result in the register", () => {
    const r = rmw([0x03, 0x03], 0x7fffffff, 4, (c) => { c.regs[EAX] = 1; });
    expect(r.written).toBeNull();
    expect(r.ctxt.regs[EAX]).toBe(0x80000000);
    expect(r.flags).toBe(OF | SF | AF | PF);
  });

  it("test [ebx], eax and test byte [ebx], imm8 only read", () => {
    expect(rmw([0x85, 0x03], 0x8000, 4, (c) => { c.regs[EAX] = 0xc000; })).toMatchObject({ written: null, flags: PF });
    expect(rmw([0xf6, 0x03, 0x80], 0x80, 1)).toMatchObject({ written: null, flags: SF });
  });

  it("inc/dec keep CF; inc 0x7fffffff overflows; dec 0x80 overflows", () => {
    expect(rmw([0xff, 0x03], 0x7fffffff, 4, (c) => { c.eflags = 2 | CF; })).toMatchObject({ written: 0x80000000, flags: CF | OF | SF | AF | PF });
    expect(rmw([0xfe, 0x0b], 0x80, 1)).toMatchObject({ written: 0x7f, flags: OF | AF });
  });

  it("not writes the complement and no flags; neg sets CF unless 0", () => {
    expect(rmw([0xf7, 0x13], 0x0f0f0f0f, 4, (c) => { c.eflags = 2 | ZF; })).toMatchObject({ written: 0xf0f0f0f0, flags: ZF });
    expect(rmw([0xf6, 0x1b], 0, 1)).toMatchObject({ written: 0, flags: ZF | PF });
    expect(rmw([0xf6, 0x1b], 0x80, 1)).toMatchObject({ written: 0x80, flags: CF | OF | SF });
    expect(rmw([0x66, 0xf7, 0x1b], 1, 2)).toMatchObject({ written: 0xffff, flags: CF | SF | AF | PF });
  });

  it("xchg [ebx], ecx reads, writes the register, and loads the old value", () => {
    const r = rmw([0x87, 0x0b], 0xaabbccdd, 4, (c) => { c.regs[ECX] = 0x11223344; });
    expect(r.written).toBe(0x11223344);
    expect(r.ctxt.regs[ECX]).toBe(0xaabbccdd);
  });

  it("lock add [ebx], eax is allowed", () => {
    expect(rmw([0xf0, 0x01, 0x03], 1, 4, (c) => { c.regs[EAX] = 1; }).written).toBe(2);
  });

  it("register forms need no memory: add ecx, edx", () => {
    const { ops, ctxt } = guest([0x01, 0xd1]);
    ctxt.regs[ECX] = 5; ctxt.regs[EDX] = 7;
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "done", retired: true });
    expect(ctxt.regs[ECX]).toBe(12);
  });
});

describe("string instructions", () => {
  it("rep stosd to MMIO: one exit per element, ECX counts down, EIP stays until the last", () => {
    const { ops, ctxt } = guest([0xf3, 0xab]);
    ctxt.regs[EDI] = MMIO;
    ctxt.regs[ECX] = 3;
    ctxt.regs[EAX] = 0x01020304;
    let r = x86_emulate_insn(ctxt, ops);
    const gpas: number[] = [];
    while (r.kind === "mmio_write") {
      expect(r.data).toEqual(bytes(0x01020304, 4));
      gpas.push(r.gpa);
      // Between exits the guest state is the committed one.
      expect(ctxt.regs[ECX]).toBe(3 - gpas.length);
      expect(ctxt.eip).toBe(gpas.length === 3 ? 0x1002 : 0x1000);
      r = x86_emulate_complete_mmio_write(ctxt, ops);
    }
    expect(r).toEqual({ kind: "done", retired: true });
    expect(gpas).toEqual([MMIO, MMIO + 4, MMIO + 8]);
    expect(ctxt.regs[EDI]).toBe(MMIO + 12);
  });

  it("rep movsw from MMIO to RAM with DF=1 walks down; 16-bit addressing uses CX and keeps ECX 31:16", () => {
    const { ops, ctxt, ram } = guest([0x66, 0x67, 0xf3, 0xa5]);
    ctxt.seg[DS] = { base: MMIO, limit: 0xffffffff, attrib: 0xc093 };
    ctxt.seg[ES] = { base: 0x20000, limit: 0xffffffff, attrib: 0xc093 };
    ctxt.eflags = 2 | DF;
    ctxt.regs[ESI] = 0xabcd0010;
    ctxt.regs[EDI] = 0x00000100;
    ctxt.regs[ECX] = 0x77770002;
    let r = x86_emulate_insn(ctxt, ops);
    expect(r).toEqual({ kind: "mmio_read", gpa: MMIO + 0x10, len: 2 });
    r = x86_emulate_complete_mmio_read(ctxt, ops, bytes(0xbeef, 2));
    expect(r).toEqual({ kind: "mmio_read", gpa: MMIO + 0x0e, len: 2 });
    expect(ctxt.regs[ECX]).toBe(0x77770001);
    r = x86_emulate_complete_mmio_read(ctxt, ops, bytes(0xf00d, 2));
    expect(r).toEqual({ kind: "done", retired: true });
    expect(Array.from(ram.subarray(0x200fe, 0x20102))).toEqual([0x0d, 0xf0, 0xef, 0xbe]);
    expect(ctxt.regs[ESI]).toBe(0xabcd000c);
    expect(ctxt.regs[EDI]).toBe(0x000000fc);
    expect(ctxt.regs[ECX]).toBe(0x77770000);
    expect(ctxt.eip).toBe(0x1004);
  });

  it("movsb MMIO to MMIO: a read exit, then a write exit", () => {
    const { ops, ctxt } = guest([0xa4]);
    ctxt.regs[ESI] = MMIO;
    ctxt.regs[EDI] = MMIO + 0x100;
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "mmio_read", gpa: MMIO, len: 1 });
    expect(x86_emulate_complete_mmio_read(ctxt, ops, bytes(0x5a, 1))).toEqual({ kind: "mmio_write", gpa: MMIO + 0x100, len: 1, data: bytes(0x5a, 1) });
    expect(x86_emulate_complete_mmio_write(ctxt, ops)).toEqual({ kind: "done", retired: true });
    expect([ctxt.regs[ESI], ctxt.regs[EDI]]).toEqual([MMIO + 1, MMIO + 0x101]);
  });

  it("REP with a zero count retires without touching memory", () => {
    const { ops, ctxt, calls } = guest([0xf3, 0xa4]);
    ctxt.regs[ESI] = MMIO;
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "done", retired: true });
    expect(calls.filter((c) => !c.startsWith("fetch"))).toEqual([]);
    expect(ctxt.eip).toBe(0x1002);
  });

  it("a long REP returns to the guest after X86EMUL_MAX_REP_ITERATIONS with EIP on the instruction, then resumes", () => {
    const { ops, ctxt, ram } = guest([0xf3, 0xaa]); // rep stosb to RAM
    ctxt.regs[EDI] = 0x30000;
    ctxt.regs[ECX] = 2000;
    ctxt.regs[EAX] = 0x42;
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "done", retired: false });
    expect(ctxt.regs[ECX]).toBe(2000 - X86EMUL_MAX_REP_ITERATIONS);
    expect(ctxt.eip).toBe(0x1000);
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "done", retired: true });
    expect(ctxt.regs[ECX]).toBe(0);
    expect(ram.subarray(0x30000, 0x30000 + 2000).every((b) => b === 0x42)).toBe(true);
    expect(ram[0x30000 + 2000]).toBe(0);
  });

  it("repe cmpsb stops at the first difference; the RAM operand is read once despite the re-execution", () => {
    const { ops, ctxt, ram, calls } = guest([0xf3, 0xa6]);
    ram.set([1, 2, 3], 0x40000);
    ctxt.regs[ESI] = 0x40000;
    ctxt.regs[EDI] = MMIO;
    ctxt.regs[ECX] = 10;
    let r = x86_emulate_insn(ctxt, ops);
    expect(r).toEqual({ kind: "mmio_read", gpa: MMIO, len: 1 });
    r = x86_emulate_complete_mmio_read(ctxt, ops, bytes(1, 1));
    expect(r).toEqual({ kind: "mmio_read", gpa: MMIO + 1, len: 1 });
    r = x86_emulate_complete_mmio_read(ctxt, ops, bytes(9, 1)); // 2 - 9: differs
    expect(r).toEqual({ kind: "done", retired: true });
    expect(ctxt.regs[ECX]).toBe(8);
    expect(ctxt.eflags & (ZF | CF | SF)).toBe(CF | SF);
    expect(calls.filter((c) => c.startsWith("read 4"))).toEqual(["read 40000 1", "read 40001 1"]);
  });

  it("lodsd from MMIO and scasb against MMIO", () => {
    const a = guest([0xad]);
    a.ctxt.regs[ESI] = MMIO + 4;
    expect(x86_emulate_insn(a.ctxt, a.ops)).toEqual({ kind: "mmio_read", gpa: MMIO + 4, len: 4 });
    x86_emulate_complete_mmio_read(a.ctxt, a.ops, bytes(0x87654321, 4));
    expect([a.ctxt.regs[EAX], a.ctxt.regs[ESI]]).toEqual([0x87654321, MMIO + 8]);
    const b = guest([0xae]);
    b.ctxt.regs[EDI] = MMIO;
    b.ctxt.regs[EAX] = 0x10;
    x86_emulate_insn(b.ctxt, b.ops);
    x86_emulate_complete_mmio_read(b.ctxt, b.ops, bytes(0x10, 1));
    expect(b.ctxt.eflags & ZF).toBe(ZF);
  });

  it("the destination of a string store is always ES, whatever the override", () => {
    const { ops, ctxt } = guest([0x64, 0xaa]);
    ctxt.seg[ES] = { base: MMIO, limit: 0xffff, attrib: 0x93 };
    ctxt.seg[4] = { base: 0x10000, limit: 0xffff, attrib: 0x93 };
    ctxt.regs[EDI] = 8;
    expect(x86_emulate_insn(ctxt, ops)).toMatchObject({ kind: "mmio_write", gpa: MMIO + 8 });
  });
});

describe("page-split accesses", () => {
  it("a dword across an MMIO page boundary is two exits of two bytes", () => {
    const { ops, ctxt } = guest([0x8b, 0x03]);
    ctxt.regs[EBX] = MMIO + 0xffe;
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "mmio_read", gpa: MMIO + 0xffe, len: 2 });
    expect(x86_emulate_complete_mmio_read(ctxt, ops, bytes(0x2211, 2))).toEqual({ kind: "mmio_read", gpa: MMIO + 0x1000, len: 2 });
    expect(x86_emulate_complete_mmio_read(ctxt, ops, bytes(0x4433, 2))).toEqual({ kind: "done", retired: true });
    expect(ctxt.regs[EAX]).toBe(0x44332211);
  });

  it("a write straddling RAM and MMIO writes the RAM piece, then exits for the rest, then commits", () => {
    const { ops, ctxt, ram } = guest([0x89, 0x03]);
    ctxt.regs[EBX] = MMIO - 1;
    ctxt.regs[EAX] = 0xa1b2c3d4;
    const r = x86_emulate_insn(ctxt, ops);
    expect(r).toEqual({ kind: "mmio_write", gpa: MMIO, len: 3, data: Uint8Array.from([0xc3, 0xb2, 0xa1]) });
    expect(ram[MMIO - 1]).toBe(0xd4);
    expect(ctxt.eip).toBe(0x1002);
  });

  it("an add on a word split across two MMIO pages: two reads, two writes, registers committed with the last", () => {
    const { ops, ctxt } = guest([0x66, 0x01, 0x03]);
    ctxt.regs[EBX] = MMIO + 0xfff;
    ctxt.regs[EAX] = 0x0101;
    let r = x86_emulate_insn(ctxt, ops);
    expect(r).toEqual({ kind: "mmio_read", gpa: MMIO + 0xfff, len: 1 });
    r = x86_emulate_complete_mmio_read(ctxt, ops, bytes(0xff, 1));
    expect(r).toEqual({ kind: "mmio_read", gpa: MMIO + 0x1000, len: 1 });
    r = x86_emulate_complete_mmio_read(ctxt, ops, bytes(0x00, 1));
    expect(r).toEqual({ kind: "mmio_write", gpa: MMIO + 0xfff, len: 1, data: bytes(0x00, 1) });
    expect(ctxt.eip).toBe(0x1000); // one more write to go
    r = x86_emulate_complete_mmio_write(ctxt, ops);
    expect(r).toEqual({ kind: "mmio_write", gpa: MMIO + 0x1000, len: 1, data: bytes(0x02, 1) });
    expect(ctxt.eip).toBe(0x1003);
    expect(x86_emulate_complete_mmio_write(ctxt, ops)).toEqual({ kind: "done", retired: true });
    expect(ctxt.eflags & (CF | AF)).toBe(AF); // 0x00ff + 0x0101 = 0x0200: carry out of bit 3, none out of bit 15
  });
});

describe("faults", () => {
  it("an offset beyond the segment limit is #GP(0); with SS it is #SS(0)", () => {
    const a = guest([0x8b, 0x07], { pm16: true }); // mov ax, [bx]
    a.ctxt.seg[DS] = { base: 0x78000, limit: 0x7fff, attrib: 0x93 };
    a.ctxt.regs[EBX] = 0x8000;
    expect(x86_emulate_insn(a.ctxt, a.ops)).toEqual({ kind: "inject", vector: 13, error_code: 0 });
    const b = guest([0x8b, 0x46, 0x00], { pm16: true }); // mov ax, [bp+0]
    b.ctxt.seg[SS] = { base: 0x78000, limit: 0x7fff, attrib: 0x93 };
    b.ctxt.regs[5] = 0x7fff; // a word at 0x7fff ends beyond the limit
    expect(x86_emulate_insn(b.ctxt, b.ops)).toEqual({ kind: "inject", vector: 12, error_code: 0 });
  });

  it("expand-down segments admit only offsets above the limit", () => {
    const { ops, ctxt } = guest([0x8b, 0x03]);
    ctxt.seg[DS] = { base: 0, limit: MMIO + 0xff, attrib: 0xc097 };
    ctxt.regs[EBX] = MMIO + 0x100;
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "mmio_read", gpa: MMIO + 0x100, len: 4 });
    x86_emulate_cancel(ctxt);
    ctxt.regs[EBX] = MMIO + 0xfc;
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "inject", vector: 13, error_code: 0 });
  });

  it("an ALU op on a read-only segment reads the device, then faults on the write, committing nothing", () => {
    const { ops, ctxt } = guest([0x01, 0x03]);
    ctxt.seg[DS] = { base: 0, limit: 0xffffffff, attrib: 0xc091 };
    ctxt.regs[EBX] = MMIO;
    ctxt.regs[EAX] = 1;
    ctxt.eflags = 2;
    expect(x86_emulate_insn(ctxt, ops).kind).toBe("mmio_read");
    expect(x86_emulate_complete_mmio_read(ctxt, ops, bytes(0xffffffff, 4))).toEqual({ kind: "inject", vector: 13, error_code: 0 });
    expect(ctxt.eflags).toBe(2);
    expect(ctxt.eip).toBe(0x1000);
    expect(x86_emulate_pending(ctxt)).toBe("none");
  });

  it("unusable, not-present and execute-only segments admit nothing", () => {
    for (const attrib of [0x10000, 0xc013, 0xc099]) {
      const { ops, ctxt } = guest([0x8b, 0x03]);
      ctxt.seg[DS] = { base: 0, limit: 0xffffffff, attrib };
      ctxt.regs[EBX] = MMIO;
      expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "inject", vector: 13, error_code: 0 });
    }
  });

  it("a #PF from the ops is injected with cr2 (the linear address when the ops give none)", () => {
    const ram = new Uint8Array(RAM_SIZE);
    ram.set([0x8b, 0x03], 0x1000);
    const base = flat_ops(ram);
    const ops: x86_emulate_ops = { ...base, read: (lin) => (lin >= 0x50000 ? { kind: "fault", vector: 14, error_code: 4 } : base.read(lin, 1)) };
    const ctxt = new x86_emulate_ctxt();
    ctxt.mode = X86EMUL_MODE_PROT32;
    for (let i = 0; i < 6; i++) ctxt.seg[i] = { base: 0, limit: 0xffffffff, attrib: 0xc093 };
    ctxt.eip = 0x1000;
    ctxt.regs[EBX] = 0x50010;
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "inject", vector: 14, error_code: 4, cr2: 0x50010 });
  });

  it("REP elements already done stay done when a later element faults", () => {
    const { ops, ctxt } = guest([0xf3, 0xaa]); // rep stosb
    ctxt.seg[ES] = { base: 0, limit: MMIO + 1, attrib: 0xc093 };
    ctxt.regs[EDI] = MMIO;
    ctxt.regs[ECX] = 5;
    let r = x86_emulate_insn(ctxt, ops);
    let n = 0;
    while (r.kind === "mmio_write") { n++; r = x86_emulate_complete_mmio_write(ctxt, ops); }
    expect(n).toBe(2);
    expect(r).toEqual({ kind: "inject", vector: 13, error_code: 0 });
    expect([ctxt.regs[ECX], ctxt.regs[EDI], ctxt.eip]).toEqual([3, MMIO + 2, 0x1000]);
  });

  it("instruction fetch: #PF from the ops, CS limit #GP, more than 15 bytes #GP", () => {
    const ram = new Uint8Array(RAM_SIZE);
    const base = flat_ops(ram);
    const ctxt = new x86_emulate_ctxt();
    ctxt.mode = X86EMUL_MODE_PROT32;
    ctxt.seg[CS] = { base: 0, limit: 0xffffffff, attrib: 0xc09b };
    ctxt.eip = 0x1ffe;
    ram.set([0x8b, 0x05], 0x1ffe); // the disp32 is on the next page
    const ops: x86_emulate_ops = { ...base, fetch: (lin, n) => (lin >= 0x2000 ? { kind: "fault", vector: 14, error_code: 0x10 } : base.fetch(lin, n)) };
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "inject", vector: 14, error_code: 0x10, cr2: 0x2000 });
    ctxt.seg[CS] = { base: 0, limit: 0x1fff, attrib: 0xc09b };
    expect(x86_emulate_insn(ctxt, base)).toEqual({ kind: "inject", vector: 13, error_code: 0 });
    ctxt.seg[CS] = { base: 0, limit: 0xffffffff, attrib: 0xc09b };
    ctxt.eip = 0x3000;
    ram.fill(0x66, 0x3000, 0x3000 + 15);
    expect(x86_emulate_insn(ctxt, base)).toEqual({ kind: "inject", vector: 13, error_code: 0 });
  });
});

describe("#UD forms", () => {
  const ud: [string, number[]][] = [
    ["lock mov", [0xf0, 0x89, 0x03]],
    ["lock cmp", [0xf0, 0x39, 0x03]],
    ["lock add with a register destination", [0xf0, 0x01, 0xc3]],
    ["lock test", [0xf0, 0xf7, 0x03, 0, 0, 0, 0]],
    ["lock 80 /7", [0xf0, 0x80, 0x3b, 1]],
    ["C7 /1", [0xc7, 0x0b, 0, 0, 0, 0]],
    ["C6 /7", [0xc6, 0x3b, 0]],
    ["FE /2", [0xfe, 0x13]],
    ["FF /7", [0xff, 0x3b]],
    ["FF /3 with a register operand", [0xff, 0xdb]],
    ["lock movs", [0xf0, 0xa4]],
  ];
  for (const [name, code] of ud) {
    it(`${name} is #UD, before any memory access`, () => {
      const { ops, ctxt, calls } = guest(code);
      ctxt.regs[EBX] = MMIO;
      expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "inject", vector: 6, error_code: null });
      expect(calls.filter((c) => !c.startsWith("fetch"))).toEqual([]);
    });
  }
});

describe("unhandleable", () => {
  const un: [number[], string][] = [
    [[0x0f, 0xa2], "0F A2"],
    [[0xff, 0x13], "FF /2"],
    [[0xff, 0x33], "FF /6"],
    [[0xf7, 0x33], "F7 /6"],
    [[0xf6, 0x23], "F6 /4"],
    [[0xd1, 0x23], "D1"],
    [[0x8e, 0x1b], "8E"],
    [[0x0f, 0xb1, 0x0b], "0F B1"],
    [[0xf3, 0x6e], "6E"],
    [[0x66, 0x26, 0xc0, 0x23, 1], "C0"],
  ];
  for (const [code, name] of un) {
    it(`${name} is unhandleable and named`, () => {
      const { ops, ctxt } = guest(code);
      ctxt.regs[EBX] = MMIO;
      const r = x86_emulate_insn(ctxt, ops);
      expect(r).toEqual({ kind: "unhandleable", why: `unsupported opcode ${name}` });
      expect(ctxt.eip).toBe(0x1000);
      expect(x86_emulate_pending(ctxt)).toBe("none");
    });
  }

  it("fetching an instruction from MMIO is unhandleable", () => {
    const { ops, ctxt } = guest([]);
    ctxt.eip = MMIO;
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "unhandleable", why: `instruction fetch from MMIO at gpa 0x${MMIO.toString(16)}` });
  });

  it("registers changed under an outstanding read make the completion unhandleable", () => {
    // cmpsb RAM vs MMIO: the RAM read is logged, the MMIO read exits.
    const { ops, ctxt } = guest([0xa6]);
    ctxt.regs[ESI] = 0x40000;
    ctxt.regs[EDI] = MMIO;
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "mmio_read", gpa: MMIO, len: 1 });
    ctxt.regs[ESI] = 0x40010; // e.g. KVM_SET_REGS between the exit and the next KVM_RUN
    expect(x86_emulate_complete_mmio_read(ctxt, ops, bytes(0, 1)).kind).toBe("unhandleable");
    expect(x86_emulate_pending(ctxt)).toBe("none");
  });
});

describe("API", () => {
  it("completing what is not outstanding is a kvm bug and throws", () => {
    const { ops, ctxt } = guest([0x8b, 0x03]);
    expect(() => x86_emulate_complete_mmio_read(ctxt, ops, bytes(0, 4))).toThrow(/no MMIO read outstanding/);
    ctxt.regs[EBX] = MMIO;
    x86_emulate_insn(ctxt, ops);
    expect(() => x86_emulate_complete_mmio_write(ctxt, ops)).toThrow(/no MMIO write outstanding/);
    expect(() => x86_emulate_complete_mmio_read(ctxt, ops, new Uint8Array(2))).toThrow(RangeError);
  });

  it("x86_emulate_mode follows CR0.PE, EFLAGS.VM and CS.D", () => {
    expect(x86_emulate_mode(0x10, 2, 0xc09b)).toBe(X86EMUL_MODE_REAL);
    expect(x86_emulate_mode(0x11, 2 | 0x20000, 0xf3)).toBe(X86EMUL_MODE_VM86);
    expect(x86_emulate_mode(0x11, 2, 0x9b)).toBe(X86EMUL_MODE_PROT16);
    expect(x86_emulate_mode(0x80000011, 2, 0xc09b)).toBe(X86EMUL_MODE_PROT32);
  });

  it("virtual-8086 mode checks only the limit, like real mode", () => {
    const { ops, ctxt } = guest([0x8b, 0x07], { real: true });
    ctxt.mode = X86EMUL_MODE_VM86;
    ctxt.seg[DS] = { base: 0x78000, limit: 0xffff, attrib: 0xf3 };
    ctxt.regs[EBX] = 0x8000;
    expect(x86_emulate_insn(ctxt, ops)).toEqual({ kind: "mmio_read", gpa: MMIO, len: 2 });
  });

  it("a short instruction at the end of a page does not fetch the next page", () => {
    const { ops, ctxt, calls, ram } = guest([]);
    ctxt.eip = 0x1ffe;
    ram.set([0x89, 0x03], 0x1ffe);
    ctxt.regs[EBX] = MMIO;
    expect(x86_emulate_insn(ctxt, ops).kind).toBe("mmio_write");
    expect(calls.filter((c) => c.startsWith("fetch"))).toEqual(["fetch 1ffe 2"]);
  });
});
