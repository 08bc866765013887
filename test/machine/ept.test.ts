// EPT in the VT-x model: the second translation stage (guest-physical -> host-physical)
// for the final access and for every guest paging-structure access, EPT violations with
// the exit qualification of SDM Table 28-7, misconfigurations, 2 MiB pages, MMIO beyond
// RAM, the combined TLB, IDT-vectoring information, and the VM-entry checks of the
// secondary controls "enable EPT" and "unrestricted guest".
import { describe, expect, it } from "vitest";
import { Context, Machine, current_cpu } from "../../machine/engine.js";
import { PhysMem } from "../../machine/phys_mem.js";
import { X86Cpu, type Bus, type NonRootControls, type Stop } from "../../machine/x86/cpu.js";
import { execute } from "../../machine/x86/interp.js";
import { CR0_ET, CR0_PG, CR4_VMXE, CS, DS, EAX, ESP, SS, real_mode_segment } from "../../machine/x86/state.js";
import {
  CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, CPU_BASED_HLT_EXITING, EXIT_REASON_EPT_VIOLATION, EXIT_REASON_INVALID_STATE,
  MSR_IA32_VMX_EPT_VPID_CAP, MSR_IA32_VMX_PROCBASED_CTLS2, SECONDARY_EXEC_ENABLE_EPT, SECONDARY_EXEC_UNRESTRICTED_GUEST,
  VMCS, VMCS_REVISION_ID, VMXERR_ENTRY_INVALID_CONTROL_FIELD, VMX_EXIT_REASONS_FAILED_VMENTRY,
} from "../../machine/x86/vmcs_fields.js";

const R = 1, W = 2, X = 4, RWX = 7, WB = 6 << 3;
const Q_READ = 1, Q_WRITE = 2, Q_FETCH = 4, Q_GLA = 1 << 7, Q_FINAL = 1 << 8;
const rights = (r: number) => r << 3;

class TestBus implements Bus {
  mmio: string[] = [];
  constructor(readonly ram: PhysMem) {}
  mmio_read(a: number, size: number): number { this.mmio.push(`r${size}@${a.toString(16)}`); return 0x1234; }
  mmio_write(a: number, size: number, v: number): void { this.mmio.push(`w${size}@${a.toString(16)}=${v.toString(16)}`); }
  io_in(): number { return 0xff; }
  io_out(): void {}
}

/** A 4-level EPT in RAM: tables are taken from `next` upwards. */
class Ept {
  next: number;
  constructor(readonly ram: PhysMem, readonly root: number, first_table: number) {
    this.next = first_table;
  }
  private entry(table: number, idx: number): number { return table + idx * 8; }
  private table(at: number): number {
    const e = this.ram.read32(at as never);
    if ((e & 7) !== 0) return e & 0xfffff000;
    const t = this.next;
    this.next += 0x1000;
    this.ram.write(t as never, new Uint8Array(4096));
    this.ram.write32(at as never, t | RWX);
    this.ram.write32((at + 4) as never, 0);
    return t;
  }
  /** Map the 4 KiB page at gpa to hpa with `rwx` and WB memory type. */
  map(gpa: number, hpa: number, rwx: number, extra = WB): void {
    const pdpt = this.table(this.entry(this.root, 0));
    const pd = this.table(this.entry(pdpt, gpa >>> 30));
    const pt = this.table(this.entry(pd, (gpa >>> 21) & 0x1ff));
    const at = this.entry(pt, (gpa >>> 12) & 0x1ff);
    this.ram.write32(at as never, (hpa | rwx | extra) >>> 0);
    this.ram.write32((at + 4) as never, 0);
  }
  /** Map a 2 MiB page (PDE bit 7). */
  map_2m(gpa: number, hpa: number, rwx: number): void {
    const pdpt = this.table(this.entry(this.root, 0));
    const pd = this.table(this.entry(pdpt, gpa >>> 30));
    this.ram.write32(this.entry(pd, (gpa >>> 21) & 0x1ff) as never, (hpa | rwx | WB | 0x80) >>> 0);
  }
}

const controls = (ept_root: number, over: Partial<NonRootControls> = {}): NonRootControls => ({
  io_exiting: true, hlt_exiting: true, exception_bitmap: 0, invlpg_exiting: false,
  cr3_load_exiting: false, cr3_store_exiting: false, cr0_guest_host_mask: 0, cr0_read_shadow: 0,
  cr4_guest_host_mask: 0, cr4_read_shadow: 0, interrupt_window_exiting: false, ept_root, ...over,
});

const EPT_ROOT = 0x300000;

/** A real-mode guest (CR0.PE=PG=0) at gpa 0x1000 whose code page the EPT maps to hpa 0x201000. */
function guest(code: number[]): { cpu: X86Cpu; ram: PhysMem; ept: Ept; bus: TestBus } {
  const ram = new PhysMem(4 << 20);
  const bus = new TestBus(ram);
  const cpu = new X86Cpu(bus);
  const ept = new Ept(ram, EPT_ROOT, EPT_ROOT + 0x1000);
  ram.write(0x201000 as never, Uint8Array.from(code));
  ept.map(0x1000, 0x201000, R | X);
  cpu.state.seg[CS] = real_mode_segment(0, true);
  cpu.state.seg[DS] = real_mode_segment(0);
  cpu.state.seg[SS] = real_mode_segment(0);
  cpu.state.eip = 0x1000;
  cpu.state.cr0 = CR0_ET;
  cpu.vmx = controls(EPT_ROOT);
  return { cpu, ram, ept, bus };
}

describe("EPT: the second stage of translation", () => {
  it("a real-mode guest's guest-physical addresses go through the EPT", () => {
    // mov ax, [0x2000]; mov [0x2002], ax; hlt
    const { cpu, ram, ept } = guest([0xa1, 0x00, 0x20, 0xa3, 0x02, 0x20, 0xf4]);
    ram.write16(0x305000 as never, 0xbeef);
    ept.map(0x2000, 0x305000, RWX);
    expect(execute(cpu, 10)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(cpu.state.gpr[EAX] & 0xffff).toBe(0xbeef);
    expect(ram.read16(0x305002 as never)).toBe(0xbeef);
    expect(ram.read16(0x2002 as never)).toBe(0); // identity would have written here
  });

  it("a missing entry is an EPT violation on the read; the instruction restarts once it is mapped", () => {
    const { cpu, ram, ept } = guest([0xa1, 0x34, 0x20, 0xf4]); // mov ax, [0x2034]; hlt
    const st = execute(cpu, 10);
    expect(st).toEqual({ kind: "ept_violation", gpa: 0x2034, gla: 0x2034, qualification: Q_READ | Q_GLA | Q_FINAL, vectoring: null });
    expect(cpu.state.eip).toBe(0x1000);
    ram.write16(0x306034 as never, 0x4321);
    ept.map(0x2000, 0x306000, R);
    cpu.flush_tlb(true); // VM entry flushes; here the test stands in for it
    expect(execute(cpu, 10)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(cpu.state.gpr[EAX] & 0xffff).toBe(0x4321);
  });

  it("a write to a read-only page reports the access and the entry's R and X; nothing is written", () => {
    // mov word [0x2000], 0x1111 ; hlt
    const { cpu, ram, ept } = guest([0xc7, 0x06, 0x00, 0x20, 0x11, 0x11, 0xf4]);
    ept.map(0x2000, 0x305000, R | X);
    const st = execute(cpu, 10);
    expect(st).toMatchObject({ kind: "ept_violation", gpa: 0x2000, qualification: Q_WRITE | rights(R | X) | Q_GLA | Q_FINAL });
    expect(ram.read16(0x305000 as never)).toBe(0);
    expect(cpu.state.eip).toBe(0x1000);
  });

  it("a read caches R in the combined TLB entry; a later write to the page still violates", () => {
    // mov ax, [0x2000] ; mov [0x2000], ax
    const { cpu, ept } = guest([0xa1, 0x00, 0x20, 0xa3, 0x00, 0x20]);
    ept.map(0x2000, 0x305000, R);
    expect(execute(cpu, 10)).toMatchObject({ kind: "ept_violation", gpa: 0x2000, qualification: Q_WRITE | rights(R) | Q_GLA | Q_FINAL });
    expect(cpu.state.eip).toBe(0x1003);
  });

  it("an instruction fetch needs X", () => {
    const { cpu, ept } = guest([]);
    ept.map(0x1000, 0x201000, R | W);
    cpu.flush_tlb(true);
    expect(execute(cpu, 10)).toMatchObject({ kind: "ept_violation", gpa: 0x1000, qualification: Q_FETCH | rights(R | W) | Q_GLA | Q_FINAL });
  });

  it("write without read, and a reserved memory type, are misconfigurations", () => {
    const a = guest([0xa1, 0x00, 0x20]);
    a.ept.map(0x2000, 0x305000, W);
    expect(execute(a.cpu, 10)).toEqual({ kind: "ept_misconfig", gpa: 0x2000, vectoring: null });
    const b = guest([0xa1, 0x00, 0x20]);
    b.ept.map(0x2000, 0x305000, R, 2 << 3);
    expect(execute(b.cpu, 10)).toEqual({ kind: "ept_misconfig", gpa: 0x2000, vectoring: null });
  });

  it("a 2 MiB EPT page maps a whole aligned region", () => {
    // mov eax, [0x203008] (operand- and address-size prefixes; DS limit 4 GiB: "unreal" mode); hlt
    const { cpu, ram, ept } = guest([0x66, 0x67, 0xa1, 0x08, 0x30, 0x20, 0x00, 0xf4]);
    cpu.state.seg[DS] = { ...real_mode_segment(0), limit: 0xffffffff };
    ept.map_2m(0x200000, 0x000000, RWX); // gpa 2 MiB..4 MiB -> hpa 0..2 MiB
    ram.write32(0x3008 as never, 0xcafef00d);
    expect(execute(cpu, 10)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(cpu.state.gpr[EAX]).toBe(0xcafef00d);
  });

  it("a host-physical address beyond RAM is MMIO on the bus", () => {
    const { cpu, ept, bus } = guest([0xa1, 0x10, 0x20, 0xf4]);
    ept.map(0x2000, 0xfee00000, R | W);
    expect(execute(cpu, 10)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(bus.mmio).toEqual(["r2@fee00010"]);
    expect(cpu.state.gpr[EAX] & 0xffff).toBe(0x1234);
  });

  it("guest paging: each paging-structure access goes through the EPT (bit 8 clear), A/D updates are writes", () => {
    // Guest page directory at gpa 0x10000, page table at gpa 0x11000, linear 0x1000 -> gpa 0x1000
    // (code), linear 0x5000 -> gpa 0x2000 (data). CR0.PG=1 with PE=0: this model's real mode under paging.
    const { cpu, ram, ept } = guest([0xa1, 0x00, 0x50, 0xf4]); // mov ax, [0x5000]; hlt
    // Guest tables live in host frames 0x310000 / 0x311000.
    ram.write32(0x310000 as never, 0x11000 | 7);
    ram.write32((0x311000 + 1 * 4) as never, 0x1000 | 7);
    ram.write32((0x311000 + 5 * 4) as never, 0x2000 | 7);
    ram.write16(0x305000 as never, 0x5a5a);
    cpu.state.cr3 = 0x10000;
    cpu.state.cr0 = CR0_ET | CR0_PG;
    // The page directory is not yet in the EPT: the first walk read violates.
    let st: Stop = execute(cpu, 10);
    expect(st).toEqual({ kind: "ept_violation", gpa: 0x10000, gla: 0x1000, qualification: Q_READ | Q_GLA, vectoring: null });
    // Page directory mapped read-only: reading it works, setting its accessed bit is a write.
    ept.map(0x10000, 0x310000, R);
    cpu.flush_tlb(true);
    st = execute(cpu, 10);
    expect(st).toMatchObject({ kind: "ept_violation", gpa: 0x11004, gla: 0x1000, qualification: Q_READ | Q_GLA });
    ept.map(0x11000, 0x311000, R | W);
    cpu.flush_tlb(true);
    st = execute(cpu, 10);
    expect(st).toMatchObject({ kind: "ept_violation", gpa: 0x10000, qualification: Q_WRITE | rights(R) | Q_GLA });
    ept.map(0x10000, 0x310000, R | W);
    ept.map(0x2000, 0x305000, R);
    cpu.flush_tlb(true);
    expect(execute(cpu, 10)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(cpu.state.gpr[EAX] & 0xffff).toBe(0x5a5a);
    // The guest's A bits were set in the guest's own tables, in the host frames behind them.
    expect(ram.read32(0x310000 as never) & 0x20).toBe(0x20);
    expect(ram.read32((0x311000 + 5 * 4) as never) & 0x20).toBe(0x20);
  });

  it("PAE guest paging: the PDPTE, PDE and PTE reads are guest-physical accesses through the EPT", () => {
    const { cpu, ram, ept } = guest([0xa1, 0x00, 0x50, 0xf4]); // mov ax, [0x5000]; hlt
    // CR3 (PAE: 32-byte aligned PDPT) at gpa 0x10020 -> hpa 0x310020; PD gpa 0x11000, PT gpa 0x12000.
    ram.write32(0x310020 as never, 0x11000 | 1);
    ram.write32(0x311000 as never, 0x12000 | 7);
    ram.write32((0x312000 + 1 * 8) as never, 0x1000 | 7);
    ram.write32((0x312000 + 5 * 8) as never, 0x2000 | 7);
    ram.write16(0x305000 as never, 0x0bad);
    ept.map(0x11000, 0x311000, R | W);
    ept.map(0x12000, 0x312000, R | W);
    ept.map(0x2000, 0x305000, R);
    cpu.state.cr3 = 0x10020;
    cpu.state.cr4 = 1 << 5; // PAE
    cpu.state.cr0 = CR0_ET | CR0_PG;
    expect(execute(cpu, 10)).toEqual({ kind: "ept_violation", gpa: 0x10020, gla: 0x1000, qualification: Q_READ | Q_GLA, vectoring: null });
    ept.map(0x10000, 0x310000, R);
    cpu.flush_tlb(true);
    expect(execute(cpu, 10)).toEqual({ kind: "hlt", insn_len: 1 });
    expect(cpu.state.gpr[EAX] & 0xffff).toBe(0x0bad);
  });

  it("the guest's #PF comes before an EPT violation on the page it would reach", () => {
    const { cpu, ram, ept } = guest([0xa1, 0x00, 0x60]); // mov ax, [0x6000]: not present in the guest PT
    ram.write32(0x310000 as never, 0x11000 | 7);
    ram.write32((0x311000 + 1 * 4) as never, 0x1000 | 7);
    ept.map(0x10000, 0x310000, R | W);
    ept.map(0x11000, 0x311000, R | W);
    cpu.state.cr3 = 0x10000;
    cpu.state.cr0 = CR0_ET | CR0_PG;
    cpu.vmx = controls(EPT_ROOT, { exception_bitmap: 1 << 14 });
    expect(execute(cpu, 10)).toEqual({ kind: "exception", vector: 14, error_code: 0, cr2: 0x6000 });
  });

  it("a violation while delivering INT n restores the state and records the event for re-injection", () => {
    // int 0x21 with the IVT page (gpa 0) not in the EPT.
    const { cpu, ram, ept } = guest([0xcd, 0x21]);
    cpu.state.gpr[ESP] = 0x1f00;
    cpu.state.idtr = { base: 0, limit: 0x3ff };
    ept.map(0x1000, 0x201000, R | W | X);
    const st = execute(cpu, 10);
    expect(st).toEqual({
      kind: "ept_violation", gpa: 0x21 * 4, gla: 0x21 * 4, qualification: Q_READ | Q_GLA | Q_FINAL,
      vectoring: { info: (0x80000000 | (4 << 8) | 0x21) >>> 0, error_code: 0, insn_len: 2 },
    });
    expect(cpu.state.eip).toBe(0x1000);
    expect(cpu.state.gpr[ESP]).toBe(0x1f00);
    expect(ram.read16(0x1efe as never)).toBe(0);
  });
});

// ---- through VM entry and exit ----------------------------------------------------------

const VMXON = 0x10000, VMCS_A = 0x11000, M_EPT = 0x40000;

async function on_cpu(body: (m: Machine) => void): Promise<void> {
  const m = new Machine({ ncpus: 1, ram_bytes: 4 << 20, seed: 1 });
  for (const a of [VMXON, VMCS_A]) m.ram.write32(a as never, VMCS_REVISION_ID);
  let err: unknown = null;
  m.boot_cpu(m.cpus[0], new Context("cpu0", async () => {
    current_cpu().x86.state.cr4 |= CR4_VMXE;
    current_cpu().vmx.vmxon(VMXON as never);
    try { body(m); } catch (e) { err = e; }
    m.cpu_throw(new Context("halt0", async () => void (await m.cpu_halt())));
  }));
  await m.run();
  if (err !== null) throw err;
}

/** VMCS for a real-mode guest at 0x1000 (gpa) with HLT exiting and the given secondary controls. */
function setup_vmcs(m: Machine, proc2: number, eptp: number): void {
  const vmx = m.cpus[0].vmx;
  vmx.vmptrld(VMCS_A as never);
  vmx.vmwrite(VMCS.CPU_BASED_VM_EXEC_CONTROL, (CPU_BASED_HLT_EXITING | CPU_BASED_ACTIVATE_SECONDARY_CONTROLS) >>> 0);
  vmx.vmwrite(VMCS.SECONDARY_VM_EXEC_CONTROL, proc2);
  vmx.vmwrite(VMCS.EPT_POINTER, eptp);
  vmx.vmwrite(VMCS.GUEST_RFLAGS, 2);
  vmx.vmwrite(VMCS.GUEST_RIP, 0x1000);
  vmx.vmwrite(VMCS.GUEST_CR0, CR0_ET | 0x20);
  vmx.vmwrite(VMCS.GUEST_CS_AR_BYTES, 0x9b);
  vmx.vmwrite(VMCS.GUEST_CS_LIMIT, 0xffff);
  vmx.vmwrite(VMCS.GUEST_DS_AR_BYTES, 0x93);
  vmx.vmwrite(VMCS.GUEST_DS_LIMIT, 0xffff);
  vmx.vmwrite(VMCS.GUEST_SS_AR_BYTES, 0x93);
  vmx.vmwrite(VMCS.GUEST_SS_LIMIT, 0xffff);
}

const EPT_ON = SECONDARY_EXEC_ENABLE_EPT | SECONDARY_EXEC_UNRESTRICTED_GUEST;
const EPTP = M_EPT | 6 | (3 << 3);

describe("EPT through VM entry and exit", () => {
  it("IA32_VMX_PROCBASED_CTLS2 allows EPT and unrestricted guest; IA32_VMX_EPT_VPID_CAP: 4-level, UC/WB, 2 MiB", () => {
    const cpu = new X86Cpu(new TestBus(new PhysMem(1 << 16)));
    expect(cpu.msrs.read(MSR_IA32_VMX_PROCBASED_CTLS2)).toBe(0x82n << 32n);
    expect(cpu.msrs.read(MSR_IA32_VMX_EPT_VPID_CAP)).toBe(BigInt((1 << 6) | (1 << 8) | (1 << 14) | (1 << 16)));
    expect(cpu.msrs.write(MSR_IA32_VMX_EPT_VPID_CAP, 0n)).toBe(false);
  });

  it("an EPT violation exits with reason 48, the qualification, GUEST_PHYSICAL_ADDRESS and GUEST_LINEAR_ADDRESS; RIP unchanged", async () => {
    await on_cpu((m) => {
      const ram = m.ram;
      const ept = new Ept(ram, M_EPT, M_EPT + 0x1000);
      ram.write(M_EPT as never, new Uint8Array(4096));
      // mov ax, [0x2010]; hlt   at gpa 0x1000 = hpa 0x81000
      ram.write(0x81000 as never, Uint8Array.from([0xa1, 0x10, 0x20, 0xf4]));
      ept.map(0x1000, 0x81000, R | X);
      setup_vmcs(m, EPT_ON, EPTP);
      const vmx = m.cpus[0].vmx;
      const regs = { gpr: new Uint32Array(8), cr2: 0 };
      expect(vmx.enter(true, regs).ok).toBe(true);
      expect(vmx.vmread(VMCS.VM_EXIT_REASON).value).toBe(EXIT_REASON_EPT_VIOLATION);
      expect(vmx.vmread(VMCS.EXIT_QUALIFICATION).value).toBe(Q_READ | Q_GLA | Q_FINAL);
      expect(vmx.vmread(VMCS.GUEST_PHYSICAL_ADDRESS).value).toBe(0x2010);
      expect(vmx.vmread(VMCS.GUEST_PHYSICAL_ADDRESS + 1).value).toBe(0);
      expect(vmx.vmread(VMCS.GUEST_LINEAR_ADDRESS).value).toBe(0x2010);
      expect(vmx.vmread(VMCS.GUEST_RIP).value).toBe(0x1000);
      expect(vmx.vmread(VMCS.IDT_VECTORING_INFO_FIELD).value).toBe(0);
      // The hypervisor maps the page and resumes; the guest completes.
      ram.write16(0x82010 as never, 0x7777);
      ept.map(0x2000, 0x82000, R | W | X);
      expect(vmx.enter(false, regs).ok).toBe(true);
      expect(vmx.vmread(VMCS.VM_EXIT_REASON).value).toBe(12);
      expect(regs.gpr[EAX] & 0xffff).toBe(0x7777);
    });
  });

  it("an injected event whose delivery violates exits with the event in IDT-vectoring information", async () => {
    await on_cpu((m) => {
      const ram = m.ram;
      const ept = new Ept(ram, M_EPT, M_EPT + 0x1000);
      ram.write(M_EPT as never, new Uint8Array(4096));
      ram.write(0x81000 as never, Uint8Array.from([0xf4]));
      ept.map(0x1000, 0x81000, R | X);
      setup_vmcs(m, EPT_ON, EPTP);
      const vmx = m.cpus[0].vmx;
      vmx.vmwrite(VMCS.GUEST_IDTR_LIMIT, 0x3ff);
      vmx.vmwrite(VMCS.VM_ENTRY_INTR_INFO_FIELD, (0x80000000 | 0x30) >>> 0); // external interrupt 0x30
      expect(vmx.enter(true, { gpr: new Uint32Array(8), cr2: 0 }).ok).toBe(true);
      expect(vmx.vmread(VMCS.VM_EXIT_REASON).value).toBe(EXIT_REASON_EPT_VIOLATION);
      expect(vmx.vmread(VMCS.GUEST_PHYSICAL_ADDRESS).value).toBe(0x30 * 4);
      expect(vmx.vmread(VMCS.IDT_VECTORING_INFO_FIELD).value).toBe((0x80000000 | 0x30) >>> 0);
      expect(vmx.vmread(VMCS.GUEST_RIP).value).toBe(0x1000);
      // Even with the local timer already due (an external-interrupt exit pending), the
      // exit the injection caused is the one reported.
      vmx.vmwrite(VMCS.PIN_BASED_VM_EXEC_CONTROL, 1);
      vmx.vmwrite(VMCS.VM_ENTRY_INTR_INFO_FIELD, (0x80000000 | 0x30) >>> 0);
      m.cpus[0].timer_deadline = 0;
      expect(vmx.enter(false, { gpr: new Uint32Array(8), cr2: 0 }).ok).toBe(true);
      expect(vmx.vmread(VMCS.VM_EXIT_REASON).value).toBe(EXIT_REASON_EPT_VIOLATION);
      expect(vmx.vmread(VMCS.IDT_VECTORING_INFO_FIELD).value).toBe((0x80000000 | 0x30) >>> 0);
      m.cpus[0].timer_deadline = null;
    });
  });

  it("VM entry fails with error 7 for unrestricted guest without EPT and for invalid EPT pointers", async () => {
    await on_cpu((m) => {
      const vmx = m.cpus[0].vmx;
      const regs = { gpr: new Uint32Array(8), cr2: 0 };
      const fail7 = { ok: false, invalid: false, error: VMXERR_ENTRY_INVALID_CONTROL_FIELD };
      setup_vmcs(m, SECONDARY_EXEC_UNRESTRICTED_GUEST, EPTP);
      expect(vmx.enter(true, regs)).toEqual(fail7);
      for (const bad of [M_EPT | 1 | (3 << 3), M_EPT | 6 | (2 << 3), M_EPT | 6 | (3 << 3) | (1 << 6), M_EPT | 6 | (3 << 3) | (1 << 8)]) {
        setup_vmcs(m, EPT_ON, bad);
        expect(vmx.enter(true, regs)).toEqual(fail7);
      }
      setup_vmcs(m, EPT_ON | (1 << 2), EPTP); // a secondary control the CPU does not allow
      expect(vmx.enter(true, regs)).toEqual(fail7);
      expect(vmx.vmread(VMCS.VM_INSTRUCTION_ERROR).value).toBe(VMXERR_ENTRY_INVALID_CONTROL_FIELD);
    });
  });

  it("without CPU_BASED_ACTIVATE_SECONDARY_CONTROLS the secondary controls are not in force", async () => {
    await on_cpu((m) => {
      m.ram.write8(0x1000 as never, 0xf4);
      setup_vmcs(m, EPT_ON, 0xdead); // an invalid EPTP, ignored
      const vmx = m.cpus[0].vmx;
      vmx.vmwrite(VMCS.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_HLT_EXITING);
      expect(vmx.enter(true, { gpr: new Uint32Array(8), cr2: 0 }).ok).toBe(true);
      expect(vmx.vmread(VMCS.VM_EXIT_REASON).value).toBe(12);
    });
  });

  it("an unrestricted guest with CR0.PG=1 and CR0.PE=0 fails VM entry with reason 33", async () => {
    await on_cpu((m) => {
      const ram = m.ram;
      ram.write(M_EPT as never, new Uint8Array(4096));
      setup_vmcs(m, EPT_ON, EPTP);
      const vmx = m.cpus[0].vmx;
      vmx.vmwrite(VMCS.GUEST_CR0, CR0_ET | 0x20 | CR0_PG);
      expect(vmx.enter(true, { gpr: new Uint32Array(8), cr2: 0 }).ok).toBe(true);
      expect(vmx.vmread(VMCS.VM_EXIT_REASON).value).toBe((EXIT_REASON_INVALID_STATE | VMX_EXIT_REASONS_FAILED_VMENTRY) >>> 0);
    });
  });
});
