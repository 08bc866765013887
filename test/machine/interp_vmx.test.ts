// VMX non-root behaviour of the interpreter: real-mode code under the hypervisor's page
// table (CR0.PG=1 with CR0.PE=0), CR access exits with the Intel qualification format,
// read shadows, CPUID/RDMSR exits, #PF exits without writing CR2, and triple faults.
import { describe, expect, it } from "vitest";
import { PhysMem } from "../../machine/phys_mem.js";
import { X86Cpu, type Bus, type NonRootControls } from "../../machine/x86/cpu.js";
import { execute } from "../../machine/x86/interp.js";
import { real_mode_segment, CS, DS, EAX, ECX, CR0_ET, CR0_PG, CR0_PE, CR0_TS } from "../../machine/x86/state.js";

class NullBus implements Bus {
  constructor(readonly ram: PhysMem) {}
  mmio_read(): number { return 0xff; }
  mmio_write(): void {}
  io_in(): number { return 0xff; }
  io_out(): void {}
}
const controls = (over: Partial<NonRootControls> = {}): NonRootControls => ({
  io_exiting: true, hlt_exiting: true, exception_bitmap: 0, invlpg_exiting: false,
  cr3_load_exiting: false, cr3_store_exiting: false, cr0_guest_host_mask: 0, cr0_read_shadow: 0,
  cr4_guest_host_mask: 0, cr4_read_shadow: 0, interrupt_window_exiting: false, ...over,
});

function guest(code: number[]): { cpu: X86Cpu; ram: PhysMem } {
  const ram = new PhysMem(4 << 20);
  const cpu = new X86Cpu(new NullBus(ram));
  ram.write(0x1000 as never, Uint8Array.from(code));
  cpu.state.seg[CS] = real_mode_segment(0, true);
  cpu.state.eip = 0x1000;
  cpu.state.cr0 = CR0_ET;
  return { cpu, ram };
}

describe("VMX non-root", () => {
  it("runs real-mode code through a shadow page table (CR0.PG=1, CR0.PE=0)", () => {
    // Guest-linear 0x1000 -> physical 0x201000 (code), 0x2000 -> 0x305000 (data).
    const { cpu, ram } = guest([]);
    ram.write(0x201000 as never, Uint8Array.from([0xa1, 0x00, 0x20, 0xf4])); // mov ax, [0x2000]; hlt
    ram.write16(0x305000 as never, 0xbeef);
    ram.write32(0x100000 as never, 0x101000 | 3);
    ram.write32((0x101000 + 1 * 4) as never, 0x201000 | 7);
    ram.write32((0x101000 + 2 * 4) as never, 0x305000 | 7);
    cpu.state.cr3 = 0x100000;
    cpu.state.cr0 = CR0_ET | CR0_PG;
    cpu.vmx = controls();
    expect(execute(cpu, 10)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(cpu.state.gpr[EAX] & 0xffff).toBe(0xbeef);
    expect(cpu.state.eip).toBe(0x1003);
  });

  it("a #PF in the exception bitmap exits with the address and does not write CR2", () => {
    const { cpu, ram } = guest([]);
    ram.write(0x201000 as never, Uint8Array.from([0xa1, 0x00, 0x30]));
    ram.write32(0x100000 as never, 0x101000 | 3);
    ram.write32((0x101000 + 4) as never, 0x201000 | 7);
    cpu.state.cr3 = 0x100000;
    cpu.state.cr0 = CR0_ET | CR0_PG;
    cpu.vmx = controls({ exception_bitmap: 1 << 14 });
    expect(execute(cpu, 10)).toEqual({ kind: "exception", vector: 14, error_code: 0, cr2: 0x3000 });
    expect(cpu.state.cr2).toBe(0);
    expect(cpu.state.eip).toBe(0x1000);
  });

  it("MOV to CR0 changing a host-owned bit exits with the CR-access qualification; reads see the shadow", () => {
    // mov eax, cr0 ; mov cr0, ecx
    const { cpu } = guest([0x0f, 0x20, 0xc0, 0x0f, 0x22, 0xc1]);
    // The hypervisor owns PE and TS; the guest believes both are clear.
    cpu.vmx = controls({ cr0_guest_host_mask: CR0_PE | CR0_TS, cr0_read_shadow: 0 });
    cpu.state.cr0 = CR0_ET | CR0_TS;
    cpu.state.gpr[ECX] = CR0_ET | CR0_PE;
    const st = execute(cpu, 10);
    expect(cpu.state.gpr[EAX]).toBe(CR0_ET); // TS hidden by the shadow
    expect(st).toEqual({ kind: "cr_access", insn_len: 3, qualification: 0 | (0 << 4) | (1 << 8) });
    expect(cpu.state.eip).toBe(0x1003);
  });

  it("CPUID, RDMSR and MOV from CR3 with store exiting exit; outside VMX CPUID advertises VMX", () => {
    const { cpu } = guest([0x0f, 0xa2]);
    cpu.vmx = controls();
    expect(execute(cpu, 1)).toEqual({ kind: "cpuid", insn_len: 2 });
    cpu.vmx = null;
    cpu.state.gpr[EAX] = 1;
    execute(cpu, 1);
    expect(cpu.state.gpr[ECX] & (1 << 5)).toBe(1 << 5);
    const g2 = guest([0x0f, 0x20, 0xd8]);
    g2.cpu.vmx = controls({ cr3_store_exiting: true });
    expect(execute(g2.cpu, 1)).toEqual({ kind: "cr_access", insn_len: 3, qualification: 3 | (1 << 4) | (0 << 8) });
  });

  it("a fault during delivery of #DF is a triple fault", () => {
    // IDT limit 0: every vector is outside it -> #GP -> #DF -> triple fault.
    const { cpu } = guest([0xcd, 0x21]);
    cpu.state.idtr = { base: 0, limit: 0 };
    cpu.state.seg[DS] = real_mode_segment(0);
    expect(execute(cpu, 5)).toEqual({ kind: "triple_fault" });
  });
});
