// Real-mode execution end to end: the first guest of the lkvm e2e test, HLT and I/O
// semantics inside and outside VMX non-root operation, and self-modifying code.
import { describe, expect, it } from "vitest";
import { PhysMem } from "../../machine/phys_mem.js";
import { X86Cpu, type Bus, type NonRootControls } from "../../machine/x86/cpu.js";
import { execute } from "../../machine/x86/interp.js";
import { real_mode_segment, CS, EAX, EBX, CR0_ET } from "../../machine/x86/state.js";

class TestBus implements Bus {
  out: [number, number][] = [];
  constructor(readonly ram: PhysMem) {}
  mmio_read(): number { return 0xff; }
  mmio_write(): void {}
  io_in(): number { return 0x5a; }
  io_out(port: number, _size: 1 | 2 | 4, v: number): void { this.out.push([port, v]); }
}

function machine(code: number[], at = 0x1000): { cpu: X86Cpu; bus: TestBus } {
  const ram = new PhysMem(1 << 20);
  const bus = new TestBus(ram);
  const cpu = new X86Cpu(bus);
  ram.write(at as never, Uint8Array.from(code));
  cpu.state.seg[CS] = real_mode_segment(0, true);
  cpu.state.eip = at;
  cpu.state.cr0 = CR0_ET;
  return { cpu, bus };
}

const vmx_controls = (over: Partial<NonRootControls> = {}): NonRootControls => ({
  io_exiting: false, hlt_exiting: false, exception_bitmap: 0, invlpg_exiting: false,
  cr3_load_exiting: false, cr3_store_exiting: false, cr0_guest_host_mask: 0, cr0_read_shadow: 0,
  cr4_guest_host_mask: 0, cr4_read_shadow: 0, interrupt_window_exiting: false, ...over,
});

const FIRST_GUEST = [0xba, 0xf8, 0x03, 0x00, 0xd8, 0x04, 0x30, 0xee, 0xb0, 0x0a, 0xee, 0xf4];

describe("real mode", () => {
  it("runs the first guest: prints AL+BL as a digit and a newline, then halts past HLT", () => {
    const { cpu, bus } = machine(FIRST_GUEST);
    cpu.state.gpr[EAX] = 2; cpu.state.gpr[EBX] = 3;
    const st = execute(cpu, 100);
    expect(st).toEqual({ kind: "hlt", insn_len: 1 });
    expect(bus.out).toEqual([[0x3f8, 0x35], [0x3f8, 0x0a]]);
    expect(cpu.state.eip).toBe(0x100c);
    expect(cpu.insns_retired).toBe(7);
  });

  it("in VMX non-root with I/O and HLT exiting, exits before OUT and at HLT with EIP unchanged", () => {
    const { cpu, bus } = machine(FIRST_GUEST);
    cpu.vmx = vmx_controls({ io_exiting: true, hlt_exiting: true });
    cpu.state.gpr[EAX] = 4; cpu.state.gpr[EBX] = 4;
    let st = execute(cpu, 100);
    expect(st).toEqual({ kind: "io", port: 0x3f8, size: 1, in: false, string: false, rep: false, imm: false, insn_len: 1 });
    expect(cpu.state.eip).toBe(0x1007);
    expect(bus.out).toEqual([]);
    cpu.state.eip += 1;
    st = execute(cpu, 100);
    expect(st.kind).toBe("io");
    cpu.state.eip += 1;
    st = execute(cpu, 100);
    expect(st).toEqual({ kind: "hlt", insn_len: 1 });
    expect(cpu.state.eip).toBe(0x100b);
  });

  it("stops on the budget", () => {
    const { cpu } = machine([0xeb, 0xfe]); // jmp $
    expect(execute(cpu, 1000)).toEqual({ kind: "budget" });
    expect(cpu.insns_retired).toBe(1000);
  });

  it("re-decodes self-modified code", () => {
    // mov byte [cs:0x1008], 0x41 ; 0x1006: jmp short +0 ; 0x1008: mov al, 0x00 -> patched to inc cx
    const { cpu } = machine([0x2e, 0xc6, 0x06, 0x09, 0x10, 0x42, 0xeb, 0x00, 0xb0, 0x00, 0xf4]);
    // First run the target once so it is in the decode cache, then patch it.
    cpu.state.eip = 0x1008;
    execute(cpu, 1);
    expect(cpu.state.gpr[EAX] & 0xff).toBe(0);
    cpu.state.eip = 0x1000;
    execute(cpu, 3);
    expect(cpu.state.gpr[EAX] & 0xff).toBe(0x42);
  });

  it("delivers #DE through the IVT with the faulting IP", () => {
    const { cpu } = machine([0xf6, 0xf3]); // div bl (bl = 0)
    cpu.state.gpr[EAX] = 5;
    cpu.state.idtr = { base: 0, limit: 0x3ff };
    cpu.bus.ram.write16(0 as never, 0x2000);
    cpu.bus.ram.write16(2 as never, 0);
    cpu.state.gpr[4] = 0x8000;
    execute(cpu, 1);
    expect(cpu.state.eip).toBe(0x2000);
    expect(cpu.bus.ram.read16(0x7ffa as never)).toBe(0x1000);
  });

  it("an exception in the exception bitmap exits instead of being delivered", () => {
    const { cpu } = machine([0xf6, 0xf3]);
    cpu.vmx = vmx_controls({ exception_bitmap: 1 });
    expect(execute(cpu, 1)).toEqual({ kind: "exception", vector: 0, error_code: null });
    expect(cpu.state.eip).toBe(0x1000);
  });
});
