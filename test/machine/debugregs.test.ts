// Debug-register breakpoints on the bare CPU and in VMX non-root operation, for what
// guests/debugregs (checked against QEMU) leaves out because QEMU 7.2's TCG departs from
// the SDM there: DR values not aligned to LEN, the last iteration of a REP string
// instruction, single-step together with a data breakpoint, general detect, I/O
// breakpoints; and the RF rules, the #DB exit qualification and MOV-DR exiting.
import { describe, expect, it } from "vitest";
import { PhysMem } from "../../machine/phys_mem.js";
import { X86Cpu, type Bus, type NonRootControls } from "../../machine/x86/cpu.js";
import { execute } from "../../machine/x86/interp.js";
import { CS, DS, SS, ES, EAX, ECX, EDI, ESP, CR0_ET, CR0_PE, FLAG_RF, FLAG_TF, type SegmentReg } from "../../machine/x86/state.js";

class NullBus implements Bus {
  outs: number[] = [];
  constructor(readonly ram: PhysMem) {}
  mmio_read(): number { return 0xff; }
  mmio_write(): void {}
  io_in(): number { return 0xff; }
  io_out(port: number): void { this.outs.push(port); }
}

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const desc = (base: number, limit: number, access: number, flags: number) => [
  limit & 0xff, (limit >>> 8) & 0xff, base & 0xff, (base >>> 8) & 0xff, (base >>> 16) & 0xff, access,
  (flags & 0xf0) | ((limit >>> 16) & 0xf), (base >>> 24) & 0xff];
const gate = (off: number) => [off & 0xff, (off >>> 8) & 0xff, 0x08, 0, 0, 0x8e, (off >>> 16) & 0xff, off >>> 24];
const flat = (sel: number, attrib: number): SegmentReg => ({ selector: sel, base: 0, limit: 0xffffffff, attrib });

/** DR7 bits for breakpoint n: L enable, R/W, LEN (0 1 byte, 1 2, 3 4, 2 8). */
const bp = (n: number, rw: number, len: number) => ((1 << (2 * n)) | (rw << (16 + 4 * n)) | (len << (18 + 4 * n))) >>> 0;
const EXEC = 0, WRITE = 1, IO = 2, RDWR = 3;

const HANDLER = 0x2000, UD_HANDLER = 0x2100, STACK = 0x9000;
/** #DB handler that passes instruction breakpoints: or dword [esp+8], RF; iret. */
const PASS_RF = [0x81, 0x4c, 0x24, 0x08, ...le32(FLAG_RF), 0xcf];

/** A flat 32-bit ring-0 machine with `code` at 0x1000, #DB -> HANDLER (hlt unless `db`)
 *  and #UD -> UD_HANDLER (hlt). */
function pm(code: number[], db: number[] = [0xf4]): { cpu: X86Cpu; ram: PhysMem; bus: NullBus } {
  const ram = new PhysMem(4 << 20);
  const bus = new NullBus(ram);
  const cpu = new X86Cpu(bus);
  const put = (a: number, b: number[]) => ram.write(a as never, Uint8Array.from(b));
  put(0x800, [...desc(0, 0, 0, 0), ...desc(0, 0xfffff, 0x9a, 0xc0), ...desc(0, 0xfffff, 0x92, 0xc0)]);
  put(0x3000 + 1 * 8, gate(HANDLER));
  put(0x3000 + 6 * 8, gate(UD_HANDLER));
  put(HANDLER, db);
  put(UD_HANDLER, [0xf4]);
  put(0x1000, code);
  const s = cpu.state;
  s.cr0 = CR0_ET | CR0_PE;
  s.seg[CS] = flat(0x08, 0xc09b);
  for (const r of [DS, SS, ES]) s.seg[r] = flat(0x10, 0xc093);
  s.gdtr = { base: 0x800, limit: 0x17 };
  s.idtr = { base: 0x3000, limit: 0x7ff };
  s.gpr[ESP] = STACK;
  s.eip = 0x1000;
  return { cpu, ram, bus };
}

/** The interrupt frame on the handler's stack: EIP, EFLAGS. */
function frame(cpu: X86Cpu, ram: PhysMem): { eip: number; eflags: number } {
  const sp = cpu.state.gpr[ESP];
  return { eip: ram.read32(sp as never), eflags: ram.read32((sp + 8) as never) };
}

const halted_in = (cpu: X86Cpu) => cpu.state.eip - 1;

describe("debug registers on the bare CPU", () => {
  it("an instruction breakpoint faults before the instruction, pushes RF=0, and RF from IRET passes it once", () => {
    const { cpu } = pm([0x40, 0xf4], PASS_RF); // inc eax; hlt
    const s = cpu.state;
    s.dr[0] = 0x1000;
    s.dr[7] = 0x400 | bp(0, EXEC, 0);
    expect(execute(cpu, 100)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(halted_in(cpu)).toBe(0x1001);
    expect(s.gpr[EAX]).toBe(1);
    expect(s.dr[6]).toBe(0xffff0ff1);
  });

  it("without RF the same breakpoint strikes again on return", () => {
    const { cpu, ram } = pm([0x40, 0xf4], [0xcf]); // handler: iret
    const s = cpu.state;
    s.dr[0] = 0x1000;
    s.dr[7] = 0x400 | bp(0, EXEC, 0);
    expect(execute(cpu, 50)).toEqual({ kind: "budget" });
    expect(s.gpr[EAX]).toBe(0);
    expect(frame(cpu, ram).eflags & FLAG_RF).toBe(0);
  });

  it("a data breakpoint ignores the DR bits below LEN: DR1 = 0x5003 with LEN 4 watches 0x5000-0x5003", () => {
    const { cpu, ram } = pm([0xc6, 0x05, ...le32(0x5004), 0x01, 0xc6, 0x05, ...le32(0x5000), 0x01, 0xf4]);
    const s = cpu.state;
    s.dr[1] = 0x5003;
    s.dr[7] = 0x400 | bp(1, WRITE, 3);
    expect(execute(cpu, 100)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(halted_in(cpu)).toBe(HANDLER);
    expect(frame(cpu, ram).eip).toBe(0x100e); // after the second store, a trap
    expect(s.dr[6]).toBe(0xffff0ff2);
  });

  it("REP STOSB: the trap follows the iteration; EIP stays on the instruction with RF=1 unless it was the last", () => {
    for (const [count, eip, ecx, rf] of [[16, 0x1000, 10, FLAG_RF], [6, 0x1002, 0, 0]]) {
      const { cpu, ram } = pm([0xf3, 0xaa, 0xf4]);
      const s = cpu.state;
      s.gpr[ECX] = count;
      s.gpr[EDI] = 0x5000;
      s.gpr[EAX] = 0x33;
      s.dr[2] = 0x5005;
      s.dr[7] = 0x400 | bp(2, WRITE, 0);
      expect(execute(cpu, 100)).toEqual({ kind: "hlt", insn_len: 1 });
      expect(halted_in(cpu)).toBe(HANDLER);
      const f = frame(cpu, ram);
      expect([f.eip, s.gpr[ECX], s.gpr[EDI], f.eflags & FLAG_RF]).toEqual([eip, ecx, 0x5006, rf]);
      expect(s.dr[6]).toBe(0xffff0ff4);
    }
  });

  it("single-step and a data breakpoint on one instruction are one #DB with BS and the B bit", () => {
    const { cpu, ram } = pm([0xa3, ...le32(0x5000), 0xf4]); // mov [0x5000], eax
    const s = cpu.state;
    s.eflags |= FLAG_TF;
    s.dr[0] = 0x5000;
    s.dr[7] = 0x400 | bp(0, RDWR, 3);
    expect(execute(cpu, 100)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(halted_in(cpu)).toBe(HANDLER);
    expect(frame(cpu, ram).eip).toBe(0x1005);
    expect(s.dr[6]).toBe(0xffff4ff1);
  });

  it("general detect: MOV DR with DR7.GD is a #DB fault with BD; delivery clears GD and pushes RF=1", () => {
    const { cpu, ram } = pm([0x0f, 0x21, 0xc0, 0xf4]); // mov eax, dr0
    const s = cpu.state;
    s.dr[7] = 0x2400;
    expect(execute(cpu, 100)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(halted_in(cpu)).toBe(HANDLER);
    const f = frame(cpu, ram);
    expect([f.eip, f.eflags & FLAG_RF, s.dr[6], s.dr[7]]).toEqual([0x1000, FLAG_RF, 0xffff2ff0, 0x400]);
  });

  it("I/O breakpoints (R/W 10) trap after OUT only with CR4.DE; without it R/W 10 never matches", () => {
    for (const de of [true, false]) {
      const { cpu, ram, bus } = pm([0xe6, 0x81, 0xf4]); // out 0x81, al
      const s = cpu.state;
      if (de) s.cr4 = 8;
      s.dr[3] = 0x80;
      s.dr[7] = 0x400 | bp(3, IO, 1); // ports 0x80-0x81
      expect(execute(cpu, 100)).toEqual({ kind: "hlt", insn_len: 1 });
      expect(bus.outs).toEqual([0x81]);
      if (de) {
        expect(halted_in(cpu)).toBe(HANDLER);
        expect(frame(cpu, ram).eip).toBe(0x1002);
        expect(s.dr[6]).toBe(0xffff0ff8);
      } else {
        expect(halted_in(cpu)).toBe(0x1002);
        expect(s.dr[6]).toBe(0xffff0ff0);
      }
    }
  });

  it("a disabled breakpoint neither faults nor sets its B bit; an enabled one on the same #DB does", () => {
    const { cpu, ram } = pm([0xa3, ...le32(0x5000), 0xf4]);
    const s = cpu.state;
    s.dr[0] = 0x5000; // R/W 01 in DR7 but L0 = G0 = 0
    s.dr[3] = 0x5000;
    s.dr[7] = 0x400 | (WRITE << 16) | bp(3, WRITE, 3);
    expect(execute(cpu, 100)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(frame(cpu, ram).eip).toBe(0x1005);
    expect(s.dr[6]).toBe(0xffff0ff8);
  });

  it("every other fault pushes RF=1 (UD2 -> #UD)", () => {
    const { cpu, ram } = pm([0x0f, 0x0b]);
    expect(execute(cpu, 100)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(halted_in(cpu)).toBe(UD_HANDLER);
    const f = frame(cpu, ram);
    expect([f.eip, f.eflags & FLAG_RF]).toEqual([0x1000, FLAG_RF]);
    expect(cpu.state.eflags & FLAG_RF).toBe(0);
  });

  it("MOV DR7 keeps bit 10 set and bits 11, 12, 14, 15 clear; DR6 reads its fixed ones", () => {
    const { cpu } = pm([0xb8, ...le32(0xffffdbff), 0x0f, 0x23, 0xf8, 0x31, 0xc0, 0x0f, 0x23, 0xf0, 0x0f, 0x21, 0xf1, 0xf4]);
    // mov eax, ~(GD | bit 10); mov dr7, eax; xor eax, eax; mov dr6, eax; mov ecx, dr6; hlt
    // (the breakpoints it enables are all at linear 0, never reached)
    expect(execute(cpu, 100)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(cpu.state.dr[7]).toBe(0xffff07ff);
    expect(cpu.state.gpr[ECX]).toBe(0xffff0ff0);
  });
});

const controls = (over: Partial<NonRootControls> = {}): NonRootControls => ({
  io_exiting: true, hlt_exiting: true, exception_bitmap: 0, invlpg_exiting: false,
  cr3_load_exiting: false, cr3_store_exiting: false, cr0_guest_host_mask: 0, cr0_read_shadow: 0,
  cr4_guest_host_mask: 0, cr4_read_shadow: 0, interrupt_window_exiting: false, ...over,
});

describe("debug registers in VMX non-root operation", () => {
  it("an intercepted #DB exits with B0-B3/BD/BS as its DR6 and leaves DR6 and DR7.GD alone", () => {
    // instruction breakpoint: the exit leaves EIP on the instruction, RF as it was (0)
    let { cpu } = pm([0x40, 0xf4]);
    cpu.state.dr[1] = 0x1000;
    cpu.state.dr[7] = 0x400 | bp(1, EXEC, 0);
    cpu.vmx = controls({ exception_bitmap: 1 << 1 });
    expect(execute(cpu, 10)).toEqual({ kind: "exception", vector: 1, error_code: null, dr6: 2 });
    expect([cpu.state.eip, cpu.state.dr[6], cpu.state.eflags & FLAG_RF]).toEqual([0x1000, 0xffff0ff0, 0]);
    // re-entered with RF=1 (as a debugger would set it), the instruction runs
    cpu.state.eflags |= FLAG_RF;
    expect(execute(cpu, 10)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(cpu.state.gpr[EAX]).toBe(1);

    // data write and single-step together: a trap, EIP after the store
    ({ cpu } = pm([0xa3, ...le32(0x5000), 0xf4]));
    cpu.state.eflags |= FLAG_TF;
    cpu.state.dr[3] = 0x5000;
    cpu.state.dr[7] = 0x400 | bp(3, WRITE, 3);
    cpu.vmx = controls({ exception_bitmap: 1 << 1 });
    expect(execute(cpu, 10)).toEqual({ kind: "exception", vector: 1, error_code: null, dr6: 0x4008 });
    expect([cpu.state.eip, cpu.state.dr[6]]).toEqual([0x1005, 0xffff0ff0]);

    // general detect: a fault (RF=1 saved), GD stays set
    ({ cpu } = pm([0x0f, 0x21, 0xc0, 0xf4]));
    cpu.state.dr[7] = 0x2400;
    cpu.vmx = controls({ exception_bitmap: 1 << 1 });
    expect(execute(cpu, 10)).toEqual({ kind: "exception", vector: 1, error_code: null, dr6: 0x2000 });
    expect([cpu.state.eip, cpu.state.dr[7], cpu.state.eflags & FLAG_RF]).toEqual([0x1000, 0x2400, FLAG_RF]);
  });

  it("a #DB the bitmap does not intercept goes through the guest IDT with DR6 written", () => {
    const { cpu, ram } = pm([0xa3, ...le32(0x5000), 0xf4]);
    cpu.state.dr[0] = 0x5000;
    cpu.state.dr[7] = 0x400 | bp(0, WRITE, 3);
    cpu.vmx = controls({ hlt_exiting: false });
    expect(execute(cpu, 10)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(halted_in(cpu)).toBe(HANDLER);
    expect(frame(cpu, ram).eip).toBe(0x1005);
    expect(cpu.state.dr[6]).toBe(0xffff0ff1);
  });

  it("MOV-DR exiting: MOV to and from DRn exit before general detect, with number, direction and register", () => {
    const { cpu } = pm([0x0f, 0x23, 0xd9, 0x0f, 0x21, 0xf0]); // mov dr3, ecx; mov eax, dr6
    cpu.state.dr[7] = 0x2400;
    cpu.vmx = controls({ mov_dr_exiting: true, exception_bitmap: 1 << 1 });
    expect(execute(cpu, 10)).toEqual({ kind: "dr_access", insn_len: 3, qualification: 0x103 });
    cpu.state.eip += 3;
    expect(execute(cpu, 10)).toEqual({ kind: "dr_access", insn_len: 3, qualification: 0x016 });
    expect(cpu.state.dr[3]).toBe(0);
  });
});
