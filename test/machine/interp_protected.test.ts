// Protected mode and paging: the real-to-protected switch, 32-bit page walks with #PF
// delivery through the IDT, accessed/dirty bits, and a ring 3 -> ring 0 interrupt that
// switches stacks through the TSS.
import { describe, expect, it } from "vitest";
import { PhysMem } from "../../machine/phys_mem.js";
import { X86Cpu, type Bus } from "../../machine/x86/cpu.js";
import { execute } from "../../machine/x86/interp.js";
import { real_mode_segment, CS, DS, SS, ES, EAX, EBX, ESP, CR0_ET, CR0_PE, CR0_PG, CR4_PSE, type SegmentReg } from "../../machine/x86/state.js";

class NullBus implements Bus {
  constructor(readonly ram: PhysMem) {}
  mmio_read(): number { return 0xff; }
  mmio_write(): void {}
  io_in(): number { return 0xff; }
  io_out(): void {}
}

function mk(): { cpu: X86Cpu; ram: PhysMem; put: (a: number, b: number[]) => void } {
  const ram = new PhysMem(4 << 20);
  const cpu = new X86Cpu(new NullBus(ram));
  return { cpu, ram, put: (a, b) => ram.write(a as never, Uint8Array.from(b)) };
}

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const desc = (base: number, limit: number, access: number, flags: number) => [
  limit & 0xff, (limit >>> 8) & 0xff, base & 0xff, (base >>> 8) & 0xff, (base >>> 16) & 0xff, access,
  (flags & 0xf0) | ((limit >>> 16) & 0xf), (base >>> 24) & 0xff];
const gate = (sel: number, off: number, type_dpl_p: number) => [off & 0xff, (off >>> 8) & 0xff, sel & 0xff, sel >>> 8, 0, type_dpl_p, (off >>> 16) & 0xff, off >>> 24];
const flat = (sel: number, attrib: number): SegmentReg => ({ selector: sel, base: 0, limit: 0xffffffff, attrib });

function gdt(put: (a: number, b: number[]) => void): void {
  put(0x800, [
    ...desc(0, 0, 0, 0),
    ...desc(0, 0xfffff, 0x9a, 0xc0), // 0x08 ring 0 code
    ...desc(0, 0xfffff, 0x92, 0xc0), // 0x10 ring 0 data
    ...desc(0, 0xfffff, 0xfa, 0xc0), // 0x18 ring 3 code
    ...desc(0, 0xfffff, 0xf2, 0xc0), // 0x20 ring 3 data
    ...desc(0x6000, 0x67, 0x89, 0x00), // 0x28 TSS
  ]);
}

function pm32(cpu: X86Cpu): void {
  const s = cpu.state;
  s.cr0 = CR0_ET | CR0_PE;
  s.seg[CS] = flat(0x08, 0xc09b);
  for (const r of [DS, SS, ES]) s.seg[r] = flat(0x10, 0xc093);
  s.gdtr = { base: 0x800, limit: 0x2f };
  s.idtr = { base: 0x3000, limit: 0x7ff };
}

describe("protected mode", () => {
  it("switches from real mode with LGDT, MOV CR0 and a far jump", () => {
    const { cpu, put } = mk();
    gdt(put);
    put(0x900, [0x2f, 0x00, ...le32(0x800)]);
    put(0x1000, [0x0f, 0x01, 0x16, 0x00, 0x09, 0x0f, 0x20, 0xc0, 0x0c, 0x01, 0x0f, 0x22, 0xc0,
      0x66, 0xea, ...le32(0x1100), 0x08, 0x00]);
    put(0x1100, [0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xd0, 0xbc, ...le32(0x9000), 0xf4]);
    const s = cpu.state;
    s.seg[CS] = real_mode_segment(0, true);
    s.eip = 0x1000;
    s.cr0 = CR0_ET;
    expect(execute(cpu, 100)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(s.cr0 & CR0_PE).toBe(CR0_PE);
    expect(s.seg[CS]).toMatchObject({ selector: 0x08, base: 0, limit: 0xffffffff });
    expect(s.seg[SS].selector).toBe(0x10);
    expect(s.gpr[ESP]).toBe(0x9000);
    expect(s.eip).toBe(0x1100 + 14);
  });

  it("MOV CR0 with PG but not PE is #GP outside VMX", () => {
    const { cpu, put } = mk();
    put(0x1000, [0x66, 0xb8, ...le32(CR0_PG | CR0_ET), 0x0f, 0x22, 0xc0]);
    cpu.state.seg[CS] = real_mode_segment(0, true);
    cpu.state.eip = 0x1000;
    cpu.state.cr0 = CR0_ET;
    cpu.state.idtr = { base: 0, limit: 0x3ff };
    put(13 * 4, [0x00, 0x20, 0x00, 0x00]);
    put(0x2000, [0xf4]);
    cpu.state.gpr[ESP] = 0x8000;
    execute(cpu, 2);
    expect(cpu.last_event_vector).toBe(13);
    expect(cpu.state.eip).toBe(0x2000);
  });

  it("walks two-level page tables, sets A/D bits, and delivers #PF with CR2 and the error code", () => {
    const { cpu, ram, put } = mk();
    gdt(put);
    pm32(cpu);
    const s = cpu.state;
    // Page directory at 0x10000: PDE 0 -> page table 0x11000; PDE 1 -> a 4 MiB page at 0 (PSE).
    put(0x10000, [...le32(0x11000 | 3), ...le32(0x00000000 | 0x83)]);
    for (let i = 0; i < 256; i++) if (i !== 0x50) put(0x11000 + i * 4, le32((i << 12) | 3));
    // #PF gate -> handler at 0x4000: pop eax (error code); mov ebx, cr2; hlt
    put(0x3000 + 14 * 8, gate(0x08, 0x4000, 0x8e));
    put(0x4000, [0x58, 0x0f, 0x20, 0xd3, 0xf4]);
    // mov [0x60010], eax ; mov eax, [0x400123] (4 MiB page) ; mov eax, [0x50004]
    put(0x2000, [0xa3, ...le32(0x60010), 0xa1, ...le32(0x400123), 0xa1, ...le32(0x50004)]);
    put(0x123, [0x78, 0x56, 0x34, 0x12]);
    s.cr3 = 0x10000;
    s.cr4 = CR4_PSE;
    s.cr0 |= CR0_PG;
    s.eip = 0x2000;
    s.gpr[ESP] = 0x9000;
    s.gpr[EAX] = 0xdeadbeef;
    expect(execute(cpu, 20)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(s.gpr[EBX]).toBe(0x50004);
    expect(s.cr2).toBe(0x50004);
    expect(s.gpr[EAX]).toBe(0); // not present, read, supervisor
    expect(ram.read32(0x60010 as never)).toBe(0xdeadbeef);
    expect(ram.read32((0x11000 + 0x60 * 4) as never) & 0x60).toBe(0x60); // accessed + dirty
    expect(ram.read32((0x11000 + 0x02 * 4) as never) & 0x60).toBe(0x20); // code page: accessed only
    expect(ram.read32(0x10004 as never) & 0x20).toBe(0x20);
    // The faulting instruction's EIP was pushed (fault semantics).
    expect(ram.read32(0x8ffc as never) & 2).toBe(2); // EFLAGS image
    expect(ram.read32(0x8ff8 as never)).toBe(0x08);
    expect(ram.read32(0x8ff4 as never)).toBe(0x200a);
  });

  it("INT from ring 3 switches to the ring 0 stack from the TSS; IRET returns to ring 3", () => {
    const { cpu, ram, put } = mk();
    gdt(put);
    pm32(cpu);
    const s = cpu.state;
    // TSS: ESP0 = 0x7000, SS0 = 0x10.
    put(0x6000 + 4, [...le32(0x7000), 0x10, 0]);
    put(0x3000 + 0x80 * 8, gate(0x08, 0x4000, 0xee)); // DPL 3 interrupt gate
    // ring 0 handler: mov ebx, [esp+12] (user ESP); iret
    put(0x4000, [0x8b, 0x5c, 0x24, 0x0c, 0xcf]);
    // ring 0: push 0x23; push 0x5000; pushf; push 0x1b; push 0x2100; iret
    put(0x2000, [0x6a, 0x23, 0x68, ...le32(0x5000), 0x9c, 0x6a, 0x1b, 0x68, ...le32(0x2100), 0xcf]);
    // ring 3: int 0x80; cli (-> #GP at CPL 3 with IOPL 0)
    put(0x2100, [0xcd, 0x80, 0xfa]);
    put(0x3000 + 13 * 8, gate(0x08, 0x4100, 0x8e));
    put(0x4100, [0xf4]);
    s.tr = { selector: 0x28, base: 0x6000, limit: 0x67, attrib: 0x8b };
    s.eip = 0x2000;
    s.gpr[ESP] = 0x9000;
    expect(execute(cpu, 50)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(s.gpr[EBX]).toBe(0x5000);
    // #GP from CPL 3 came in on the TSS stack: error code 0, EIP of the CLI, CS 0x1b.
    expect(s.seg[CS].selector).toBe(0x08);
    expect(s.seg[SS].selector).toBe(0x10);
    expect(s.gpr[ESP]).toBe(0x7000 - 24);
    expect(ram.read32((0x7000 - 24) as never)).toBe(0);
    expect(ram.read32((0x7000 - 20) as never)).toBe(0x2102);
    expect(ram.read32((0x7000 - 16) as never)).toBe(0x1b);
    expect(ram.read32((0x7000 - 8) as never)).toBe(0x5000);
    expect(ram.read32((0x7000 - 4) as never)).toBe(0x23);
  });

  it("walks PAE tables: 4 KiB pages and 2 MiB pages", () => {
    const { cpu, ram, put } = mk();
    gdt(put);
    pm32(cpu);
    const s = cpu.state;
    // PDPT at 0x10000; PD at 0x11000; PT at 0x12000. PDE 0 -> PT, PDE 1 -> 2 MiB page at 0x200000.
    put(0x10000, [...le32(0x11000 | 1), 0, 0, 0, 0]);
    put(0x11000, [...le32(0x12000 | 3), 0, 0, 0, 0, ...le32(0x200000 | 0x83), 0, 0, 0, 0]);
    for (let i = 0; i < 16; i++) put(0x12000 + i * 8, [...le32((i << 12) | 3), 0, 0, 0, 0]);
    put(0x12000 + 5 * 8, [...le32(0x3f0000 | 3), 0, 0, 0, 0]); // linear 0x5000 -> physical 0x3f0000
    // mov eax, [0x5004] ; mov ebx, [0x200010] ; hlt
    put(0x2000, [0xa1, ...le32(0x5004), 0x8b, 0x1d, ...le32(0x200010), 0xf4]);
    put(0x3f0004, le32(0x11223344));
    put(0x200010, le32(0x55667788));
    s.cr3 = 0x10000;
    s.cr4 = 0x20;
    s.cr0 |= CR0_PG;
    s.eip = 0x2000;
    expect(execute(cpu, 10)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(s.gpr[EAX]).toBe(0x11223344);
    expect(s.gpr[EBX]).toBe(0x55667788);
    expect(ram.read32(0x11008 as never) & 0x20).toBe(0x20);
  });

  it("SYSENTER enters ring 0 at IA32_SYSENTER_EIP; SYSEXIT returns to ring 3 at EDX", () => {
    const { cpu, put } = mk();
    gdt(put);
    pm32(cpu);
    const s = cpu.state;
    cpu.msrs.write(0x174, 0x08n);
    cpu.msrs.write(0x175, 0x7000n);
    cpu.msrs.write(0x176, 0x4000n);
    put(0x2000, [0x0f, 0x34]);
    put(0x4000, [0xb9, ...le32(0x5000), 0xba, ...le32(0x2100), 0x0f, 0x35]);
    put(0x2100, [0xf4]); // HLT at CPL 3 -> #GP
    put(0x3000 + 13 * 8, gate(0x08, 0x4100, 0x8e));
    put(0x4100, [0xf4]);
    s.tr = { selector: 0x28, base: 0x6000, limit: 0x67, attrib: 0x8b };
    put(0x6000 + 4, [...le32(0x7800), 0x10, 0]);
    s.eip = 0x2000;
    expect(execute(cpu, 10)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(cpu.last_event_vector).toBe(13);
    expect(s.gpr[ESP]).toBe(0x7800 - 24);
  });
});
