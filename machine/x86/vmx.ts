// The VT-x model: VMX operation on one CPU, the VMCS as a region of RAM, and VM entry
// and exit around the interpreter.
//
// Hardware rules this model enforces, because the port's problems live there:
// - A VMCS is *active* on at most one CPU at a time: from VMPTRLD until VMCLEAR on the
//   CPU that loaded it. VMPTRLD of a VMCS active on another CPU, or VMCLEAR/VMREAD/
//   VMWRITE/VMRESUME of it from another CPU, corrupts it on real hardware (the CPU
//   caches VMCS data); here it is a MachineCheck naming both CPUs. This is why KVM
//   keeps get_cpu() from vcpu_load to vcpu_put, and clears a VMCS by IPI on the CPU
//   that last loaded it before loading it elsewhere.
// - VMLAUNCH needs a clear VMCS, VMRESUME a launched one (VM-instruction errors 4, 5).
// - Guest general-purpose registers other than RSP are not in the VMCS: the hypervisor
//   loads and saves them around VM entry (vmx_vcpu_run's register shuffle), so enter()
//   takes them as an array.
//
// The VMCS layout in its 4 KiB region is implementation-specific on real CPUs; here
// bytes 0-3 are the revision identifier, 4-7 the VMX-abort indicator, and every
// supported field has an 8-byte slot after them.
//
// Extension of this model ("VT-x-like"): a guest may run with CR0.PE=0 and CR0.PG=1,
// i.e. real-mode code with the hypervisor's shadow page table in force. KVM of 2007
// reached the same effect with vm86 mode; "unrestricted guest" CPUs run real mode
// directly (with EPT).
//
// EPT and unrestricted guest (secondary controls 1 and 7, SDM 26.2.1.1 and 26.3.1.1):
// VM entry fails (VMfailValid, error 7) if a secondary control is set that
// IA32_VMX_PROCBASED_CTLS2 does not allow, if "unrestricted guest" is set without
// "enable EPT", or if the EPT pointer is invalid (memory type other than UC or WB, a
// walk length other than 4, A/D enable (not supported), reserved bits [11:7] or
// [63:32] set). With "unrestricted guest", guest CR0.PG=1 requires CR0.PE=1 (else the
// entry fails with reason 33): the guest's own CR0/CR3/CR4 are then exactly what the
// CPU runs, with the EPT translating guest-physical to host-physical.

import type { Cpu } from "../engine.js";
import { MachineCheck } from "../phys_mem.js";
import { PAGE_SIZE, type Hpa } from "../addr.js";
import type { NonRootControls, Stop, X86Cpu } from "./cpu.js";
import { execute } from "./interp.js";
import { MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_EIP, MSR_IA32_SYSENTER_ESP } from "./msr.js";
import { CR0_PE, CR0_PG, CR4_VMXE, ESP, type SegmentReg, type X86State } from "./state.js";
import {
  CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, CPU_BASED_CR3_LOAD_EXITING, CPU_BASED_CR3_STORE_EXITING, CPU_BASED_HLT_EXITING, CPU_BASED_INVDPG_EXITING,
  EXIT_REASON_EPT_MISCONFIG, EXIT_REASON_EPT_VIOLATION, MSR_IA32_VMX_EPT_VPID_CAP, MSR_IA32_VMX_PROCBASED_CTLS2,
  SECONDARY_EXEC_ENABLE_EPT, SECONDARY_EXEC_UNRESTRICTED_GUEST, VMXERR_ENTRY_INVALID_CONTROL_FIELD,
  VMX_EPT_PAGE_WALK_4_BIT, VMX_EPTP_MT_UC, VMX_EPTP_MT_WB, VMX_EPTP_PWL_4, VMX_EPTP_UC_BIT, VMX_EPTP_WB_BIT,
  CPU_BASED_UNCOND_IO_EXITING, CPU_BASED_VIRTUAL_INTR_PENDING,
  EXIT_REASON_CPUID, EXIT_REASON_CR_ACCESS, EXIT_REASON_DR_ACCESS, CPU_BASED_MOV_DR_EXITING, EXIT_REASON_EXCEPTION_NMI, EXIT_REASON_EXTERNAL_INTERRUPT,
  EXIT_REASON_HLT, EXIT_REASON_INVALID_STATE, EXIT_REASON_INVLPG, EXIT_REASON_IO_INSTRUCTION,
  EXIT_REASON_MSR_READ, EXIT_REASON_MSR_WRITE, EXIT_REASON_PENDING_INTERRUPT, EXIT_REASON_RDTSC,
  EXIT_REASON_TRIPLE_FAULT, FEATURE_CONTROL_LOCKED, FEATURE_CONTROL_VMXON_ENABLED_OUTSIDE_SMX,
  INTR_INFO_DELIVER_CODE_MASK, INTR_INFO_VALID_MASK, INTR_TYPE_HARD_EXCEPTION, INTR_TYPE_SOFT_EXCEPTION,
  MSR_IA32_FEATURE_CONTROL, PIN_BASED_EXT_INTR_MASK, VMCS, VMCS_REVISION_ID,
  VMXERR_UNSUPPORTED_VMCS_COMPONENT, VMXERR_VMCLEAR_INVALID_ADDRESS, VMXERR_VMCLEAR_VMXON_POINTER,
  VMXERR_VMLAUNCH_NONCLEAR_VMCS, VMXERR_VMPTRLD_INCORRECT_VMCS_REVISION_ID, VMXERR_VMPTRLD_INVALID_ADDRESS,
  VMXERR_VMPTRLD_VMXON_POINTER, VMXERR_VMRESUME_NONLAUNCHED_VMCS, VMXERR_VMXON_IN_VMX_ROOT_OPERATION,
  VMX_EXIT_REASONS_FAILED_VMENTRY,
} from "./vmcs_fields.js";

/** Outcome of a VMX instruction: VMsucceed, VMfailInvalid (no current VMCS, CF=1), or
 *  VMfailValid with the VM-instruction error number (ZF=1). */
export type VmxStatus = { ok: true } | { ok: false; invalid: true } | { ok: false; invalid: false; error: number };
const SUCCEED: VmxStatus = { ok: true };
const FAIL_INVALID: VmxStatus = { ok: false, invalid: true };

const FIELD_SLOT = new Map<number, number>();
{
  let off = 8;
  for (const enc of Object.values(VMCS)) {
    FIELD_SLOT.set(enc, off);
    off += 8;
  }
  if (off > PAGE_SIZE) throw new Error("VMCS field slots exceed a page");
}
/** Width of a field from encoding bits 14:13: 0 16-bit, 1 64-bit, 2 32-bit, 3 natural. */
const field_width = (enc: number) => (enc >>> 13) & 3;

const SYSENTER_MSRS = [MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP];
const GUEST_SYSENTER_FIELDS = [VMCS.GUEST_SYSENTER_CS, VMCS.GUEST_SYSENTER_ESP, VMCS.GUEST_SYSENTER_EIP];

/** Guest state the hypervisor keeps in software across VM exits. */
export interface GuestSoftwareRegs {
  gpr: Uint32Array;
  cr2: number;
}

/** Where each VMCS is active, machine-wide. */
interface VmcsActivity {
  cpu: Cpu;
  launched: boolean;
}

type SegmentFields = [selector: number, base: number, limit: number, ar: number];
const GUEST_SEGMENTS: SegmentFields[] = [
  [VMCS.GUEST_ES_SELECTOR, VMCS.GUEST_ES_BASE, VMCS.GUEST_ES_LIMIT, VMCS.GUEST_ES_AR_BYTES],
  [VMCS.GUEST_CS_SELECTOR, VMCS.GUEST_CS_BASE, VMCS.GUEST_CS_LIMIT, VMCS.GUEST_CS_AR_BYTES],
  [VMCS.GUEST_SS_SELECTOR, VMCS.GUEST_SS_BASE, VMCS.GUEST_SS_LIMIT, VMCS.GUEST_SS_AR_BYTES],
  [VMCS.GUEST_DS_SELECTOR, VMCS.GUEST_DS_BASE, VMCS.GUEST_DS_LIMIT, VMCS.GUEST_DS_AR_BYTES],
  [VMCS.GUEST_FS_SELECTOR, VMCS.GUEST_FS_BASE, VMCS.GUEST_FS_LIMIT, VMCS.GUEST_FS_AR_BYTES],
  [VMCS.GUEST_GS_SELECTOR, VMCS.GUEST_GS_BASE, VMCS.GUEST_GS_LIMIT, VMCS.GUEST_GS_AR_BYTES],
];
const GUEST_LDTR: SegmentFields = [VMCS.GUEST_LDTR_SELECTOR, VMCS.GUEST_LDTR_BASE, VMCS.GUEST_LDTR_LIMIT, VMCS.GUEST_LDTR_AR_BYTES];
const GUEST_TR: SegmentFields = [VMCS.GUEST_TR_SELECTOR, VMCS.GUEST_TR_BASE, VMCS.GUEST_TR_LIMIT, VMCS.GUEST_TR_AR_BYTES];

export class VmxUnit {
  /** VMXON region while in VMX root operation, else null. */
  vmxon_region: Hpa | null = null;
  /** Current-VMCS pointer. */
  current: Hpa | null = null;
  /** VM exits taken, for statistics. */
  exits = 0;

  constructor(
    readonly cpu: Cpu,
    private readonly x86: X86Cpu,
    private readonly activity: Map<number, VmcsActivity>,
  ) {}

  private get ram() {
    return this.cpu.machine.ram;
  }

  private check_region(a: Hpa): boolean {
    return a % PAGE_SIZE === 0 && a >= 0 && a < this.ram.size_bytes;
  }

  vmxon(region: Hpa): VmxStatus {
    if ((this.x86.state.cr4 & CR4_VMXE) === 0) throw new MachineCheck(`cpu${this.cpu.id}: VMXON with CR4.VMXE clear (#UD)`);
    const fc = this.x86.msrs.read(MSR_IA32_FEATURE_CONTROL) ?? 0n;
    const need = BigInt(FEATURE_CONTROL_LOCKED | FEATURE_CONTROL_VMXON_ENABLED_OUTSIDE_SMX);
    if ((fc & need) !== need) throw new MachineCheck(`cpu${this.cpu.id}: VMXON with IA32_FEATURE_CONTROL not enabled (#GP)`);
    if (this.vmxon_region !== null) return this.fail(VMXERR_VMXON_IN_VMX_ROOT_OPERATION);
    if (!this.check_region(region) || this.ram.read32(region) !== VMCS_REVISION_ID) return FAIL_INVALID;
    this.vmxon_region = region;
    return SUCCEED;
  }

  vmxoff(): VmxStatus {
    this.need_root("VMXOFF");
    this.vmxon_region = null;
    this.current = null;
    return SUCCEED;
  }

  vmptrld(vmcs: Hpa): VmxStatus {
    this.need_root("VMPTRLD");
    if (!this.check_region(vmcs)) return this.fail(VMXERR_VMPTRLD_INVALID_ADDRESS);
    if (vmcs === this.vmxon_region) return this.fail(VMXERR_VMPTRLD_VMXON_POINTER);
    if (this.ram.read32(vmcs) !== VMCS_REVISION_ID) return this.fail(VMXERR_VMPTRLD_INCORRECT_VMCS_REVISION_ID);
    const a = this.activity.get(vmcs);
    if (a !== undefined && a.cpu !== this.cpu)
      throw new MachineCheck(
        `VMPTRLD on cpu${this.cpu.id} of VMCS at 0x${vmcs.toString(16)} still active on cpu${a.cpu.id} ` +
          `(not VMCLEARed there): its cached state would be corrupted`,
      );
    if (a === undefined) this.activity.set(vmcs, { cpu: this.cpu, launched: false });
    this.current = vmcs;
    return SUCCEED;
  }

  vmclear(vmcs: Hpa): VmxStatus {
    this.need_root("VMCLEAR");
    if (!this.check_region(vmcs)) return this.fail(VMXERR_VMCLEAR_INVALID_ADDRESS);
    if (vmcs === this.vmxon_region) return this.fail(VMXERR_VMCLEAR_VMXON_POINTER);
    const a = this.activity.get(vmcs);
    if (a !== undefined && a.cpu !== this.cpu)
      throw new MachineCheck(
        `VMCLEAR on cpu${this.cpu.id} of VMCS at 0x${vmcs.toString(16)} active on cpu${a.cpu.id}: ` +
          `cpu${a.cpu.id} still caches it and may write it back later`,
      );
    this.activity.delete(vmcs);
    if (this.current === vmcs) this.current = null;
    return SUCCEED;
  }

  vmread(field: number): { status: VmxStatus; value: number } {
    const slot = this.slot_of(field);
    if (slot === null) return { status: this.current === null ? FAIL_INVALID : this.fail(VMXERR_UNSUPPORTED_VMCS_COMPONENT), value: 0 };
    const [at, high] = slot;
    const v = high ? this.ram.read32((at + 4) as Hpa) : this.read_slot(at, field);
    return { status: SUCCEED, value: v };
  }

  vmwrite(field: number, value: number): VmxStatus {
    const slot = this.slot_of(field);
    if (slot === null) return this.current === null ? FAIL_INVALID : this.fail(VMXERR_UNSUPPORTED_VMCS_COMPONENT);
    const [at, high] = slot;
    if (high) this.ram.write32((at + 4) as Hpa, value >>> 0);
    else this.write_slot(at, field, value);
    return SUCCEED;
  }

  /** VMLAUNCH (launch=true) or VMRESUME: enter the guest described by the current VMCS,
   *  run it until a VM exit, and return to the host. `regs.gpr` holds the guest's
   *  general-purpose registers in encoding order (the ESP slot is ignored: RSP is in
   *  the VMCS) and `regs.cr2` its CR2, neither of which the VMCS holds; both are
   *  updated on exit. */
  enter(launch: boolean, regs: GuestSoftwareRegs): VmxStatus {
    this.need_root(launch ? "VMLAUNCH" : "VMRESUME");
    if (this.current === null) return FAIL_INVALID;
    const act = this.activity.get(this.current);
    if (act === undefined || act.cpu !== this.cpu)
      throw new MachineCheck(`cpu${this.cpu.id}: VM entry with a VMCS not active on this CPU`);
    if (launch && act.launched) return this.fail(VMXERR_VMLAUNCH_NONCLEAR_VMCS);
    if (!launch && !act.launched) return this.fail(VMXERR_VMRESUME_NONLAUNCHED_VMCS);
    const proc = this.rd(VMCS.CPU_BASED_VM_EXEC_CONTROL);
    const proc2 = (proc & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS) !== 0 ? this.rd(VMCS.SECONDARY_VM_EXEC_CONTROL) : 0;
    const ept_root = this.check_secondary_controls(proc2);
    if (ept_root === false) return this.fail(VMXERR_ENTRY_INVALID_CONTROL_FIELD);
    const unrestricted = (proc2 & SECONDARY_EXEC_UNRESTRICTED_GUEST) !== 0;

    const host = snapshot(this.x86.state);
    const host_sysenter = SYSENTER_MSRS.map((m) => this.x86.msrs.read(m) ?? 0n);
    const st = this.x86.state;
    this.load_guest_state(st, regs);
    if ((st.eflags & 2) === 0 || (unrestricted && (st.cr0 & CR0_PG) !== 0 && (st.cr0 & CR0_PE) === 0)) {
      // SDM 26.3.1.4: RFLAGS bit 1 must be set; 26.3.1.1: an unrestricted guest with
      // CR0.PG=1 must have CR0.PE=1. The entry fails with basic reason 33.
      restore(st, host);
      this.vmwrite(VMCS.VM_EXIT_REASON, (EXIT_REASON_INVALID_STATE | VMX_EXIT_REASONS_FAILED_VMENTRY) >>> 0);
      this.vmwrite(VMCS.EXIT_QUALIFICATION, 0);
      return SUCCEED;
    }
    act.launched = true;
    const pin = this.rd(VMCS.PIN_BASED_VM_EXEC_CONTROL);
    this.x86.vmx = {
      io_exiting: (proc & CPU_BASED_UNCOND_IO_EXITING) !== 0,
      hlt_exiting: (proc & CPU_BASED_HLT_EXITING) !== 0,
      exception_bitmap: this.rd(VMCS.EXCEPTION_BITMAP),
      invlpg_exiting: (proc & CPU_BASED_INVDPG_EXITING) !== 0,
      cr3_load_exiting: (proc & CPU_BASED_CR3_LOAD_EXITING) !== 0,
      cr3_store_exiting: (proc & CPU_BASED_CR3_STORE_EXITING) !== 0,
      cr0_guest_host_mask: this.rd(VMCS.CR0_GUEST_HOST_MASK),
      cr0_read_shadow: this.rd(VMCS.CR0_READ_SHADOW),
      cr4_guest_host_mask: this.rd(VMCS.CR4_GUEST_HOST_MASK),
      cr4_read_shadow: this.rd(VMCS.CR4_READ_SHADOW),
      interrupt_window_exiting: (proc & CPU_BASED_VIRTUAL_INTR_PENDING) !== 0,
      mov_dr_exiting: (proc & CPU_BASED_MOV_DR_EXITING) !== 0,
      ept_root,
    } satisfies NonRootControls;
    // Event injection (VM-entry interruption information) is delivered through the
    // guest's IVT/IDT before the first instruction, then the valid bit is cleared.
    const inject = this.rd(VMCS.VM_ENTRY_INTR_INFO_FIELD);
    this.vmwrite(VMCS.VM_ENTRY_INTR_INFO_FIELD, inject & ~INTR_INFO_VALID_MASK);
    let stop: Stop;
    if ((inject & INTR_INFO_VALID_MASK) !== 0 && !this.x86.inject_event(inject, this.rd(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE), this.rd(VMCS.VM_ENTRY_INSTRUCTION_LEN))) {
      stop = { kind: "triple_fault" };
    } else {
      // A VM exit that injection itself caused (an intercepted exception or an EPT
      // violation while delivering) comes before anything else, external interrupts
      // included: execute() with no budget returns it and runs nothing.
      const injected = execute(this.x86, 0);
      stop = injected.kind !== "budget" ? injected : this.run_guest((pin & PIN_BASED_EXT_INTR_MASK) !== 0);
    }
    this.exits++;
    this.store_exit(stop);
    this.save_guest_state(st, regs);
    this.x86.vmx = null;
    restore(st, host);
    SYSENTER_MSRS.forEach((m, i) => this.x86.msrs.write(m, host_sysenter[i]));
    return SUCCEED;
  }

  /** VM-execution control checks of the secondary controls (SDM 26.2.1.1). Returns the
   *  EPT PML4 address when EPT is enabled, null when not, false when the entry must fail. */
  private check_secondary_controls(proc2: number): number | null | false {
    const allowed1 = Number(((this.x86.msrs.read(MSR_IA32_VMX_PROCBASED_CTLS2) ?? 0n) >> 32n) & 0xffffffffn);
    if ((proc2 & ~allowed1) !== 0) return false;
    const ept = (proc2 & SECONDARY_EXEC_ENABLE_EPT) !== 0;
    if ((proc2 & SECONDARY_EXEC_UNRESTRICTED_GUEST) !== 0 && !ept) return false;
    if (!ept) return null;
    const eptp = this.rd(VMCS.EPT_POINTER) >>> 0;
    const eptp_hi = this.rd(VMCS.EPT_POINTER + 1) >>> 0;
    const cap = Number((this.x86.msrs.read(MSR_IA32_VMX_EPT_VPID_CAP) ?? 0n) & 0xffffffffn);
    const mt = eptp & 7;
    const mt_ok = (mt === VMX_EPTP_MT_UC && (cap & VMX_EPTP_UC_BIT) !== 0) || (mt === VMX_EPTP_MT_WB && (cap & VMX_EPTP_WB_BIT) !== 0);
    const walk_ok = (eptp & 0x38) === VMX_EPTP_PWL_4 && (cap & VMX_EPT_PAGE_WALK_4_BIT) !== 0;
    // [6] A/D enable is not supported; [11:7] reserved; [63:32] beyond MAXPHYADDR.
    if (!mt_ok || !walk_ok || (eptp & 0xfc0) !== 0 || eptp_hi !== 0) return false;
    return (eptp & 0xfffff000) >>> 0;
  }

  /** Run guest instructions until something exits. Each instruction is one TSC cycle.
   *  An external interrupt (the local timer reaching its deadline, or an IPI) exits
   *  when pin-based external-interrupt exiting is on. */
  private run_guest(ext_intr_exiting: boolean): Stop {
    const cpu = this.cpu;
    const CHUNK = 1 << 20;
    for (;;) {
      if (ext_intr_exiting && (cpu.pending.length > 0 || cpu.timer_due())) return { kind: "budget" };
      let budget = CHUNK;
      if (ext_intr_exiting && cpu.timer_deadline !== null) budget = Math.max(0, Math.min(CHUNK, cpu.timer_deadline - cpu.tsc));
      const before = this.x86.insns_retired;
      const stop = budget === 0 ? ({ kind: "budget" } as Stop) : execute(this.x86, budget);
      cpu.tsc += this.x86.insns_retired - before;
      if (stop.kind !== "budget") return stop;
    }
  }

  private store_exit(stop: Stop): void {
    let reason: number;
    let qual = 0;
    let intr_info = 0;
    let intr_error = 0;
    let len = 0;
    let insn_info = 0;
    switch (stop.kind) {
      case "budget":
        reason = EXIT_REASON_EXTERNAL_INTERRUPT;
        break;
      case "hlt":
        reason = EXIT_REASON_HLT;
        len = stop.insn_len;
        break;
      case "io":
        // Exit qualification for I/O instructions (SDM Table 27-5): size-1 [2:0],
        // direction [3] (1 = IN), string [4], REP [5], immediate operand [6], port [31:16].
        reason = EXIT_REASON_IO_INSTRUCTION;
        qual = (stop.size - 1) | (stop.in ? 8 : 0) | (stop.string ? 16 : 0) | (stop.rep ? 32 : 0) | (stop.imm ? 64 : 0) | (stop.port << 16);
        len = stop.insn_len;
        // VM-exit instruction information for INS/OUTS (SDM Table 27-8): address size
        // [9:7] (0 = 16-bit, 1 = 32-bit), segment register [17:15].
        if (stop.string) insn_info = ((stop.address_size === 4 ? 1 : 0) << 7) | ((stop.seg ?? 3) << 15);
        break;
      case "exception": {
        reason = EXIT_REASON_EXCEPTION_NMI;
        const soft = stop.vector === 3 || stop.vector === 4;
        intr_info = stop.vector | (soft ? INTR_TYPE_SOFT_EXCEPTION : INTR_TYPE_HARD_EXCEPTION) | INTR_INFO_VALID_MASK;
        if (stop.error_code !== null) {
          intr_info |= INTR_INFO_DELIVER_CODE_MASK;
          intr_error = stop.error_code;
        }
        if (stop.vector === 14) qual = stop.cr2 ?? 0;
        // #DB: B0-B3, BD and BS in DR6's positions (SDM 27.2.1, Table 28-1); DR6 itself is not written.
        if (stop.vector === 1) qual = (stop.dr6 ?? 0) & 0x600f;
        break;
      }
      case "triple_fault":
        reason = EXIT_REASON_TRIPLE_FAULT;
        break;
      case "cpuid":
        reason = EXIT_REASON_CPUID;
        len = stop.insn_len;
        break;
      case "rdtsc":
        reason = EXIT_REASON_RDTSC;
        len = stop.insn_len;
        break;
      case "rdmsr":
        reason = EXIT_REASON_MSR_READ;
        len = stop.insn_len;
        break;
      case "wrmsr":
        reason = EXIT_REASON_MSR_WRITE;
        len = stop.insn_len;
        break;
      case "invlpg":
        reason = EXIT_REASON_INVLPG;
        qual = stop.address;
        len = stop.insn_len;
        break;
      case "cr_access":
        reason = EXIT_REASON_CR_ACCESS;
        qual = stop.qualification;
        len = stop.insn_len;
        break;
      case "dr_access":
        reason = EXIT_REASON_DR_ACCESS;
        qual = stop.qualification;
        len = stop.insn_len;
        break;
      case "interrupt_window":
        reason = EXIT_REASON_PENDING_INTERRUPT;
        break;
      case "ept_violation":
        reason = EXIT_REASON_EPT_VIOLATION;
        qual = stop.qualification;
        this.vmwrite(VMCS.GUEST_LINEAR_ADDRESS, stop.gla >>> 0);
        this.vmwrite(VMCS.GUEST_PHYSICAL_ADDRESS, stop.gpa >>> 0);
        this.vmwrite(VMCS.GUEST_PHYSICAL_ADDRESS + 1, 0);
        break;
      case "ept_misconfig":
        reason = EXIT_REASON_EPT_MISCONFIG;
        this.vmwrite(VMCS.GUEST_PHYSICAL_ADDRESS, stop.gpa >>> 0);
        this.vmwrite(VMCS.GUEST_PHYSICAL_ADDRESS + 1, 0);
        break;
    }
    // IDT-vectoring information: the event whose delivery the exit interrupted; for a
    // software interrupt or exception the exit instruction length is that of INT n.
    const vec = stop.kind === "ept_violation" || stop.kind === "ept_misconfig" || stop.kind === "exception" ? (stop.vectoring ?? null) : null;
    if (vec !== null && vec.insn_len !== 0) len = vec.insn_len;
    this.vmwrite(VMCS.VM_EXIT_REASON, reason);
    this.vmwrite(VMCS.EXIT_QUALIFICATION, qual >>> 0);
    this.vmwrite(VMCS.VM_EXIT_INTR_INFO, intr_info >>> 0);
    this.vmwrite(VMCS.VM_EXIT_INTR_ERROR_CODE, intr_error >>> 0);
    this.vmwrite(VMCS.VM_EXIT_INSTRUCTION_LEN, len);
    this.vmwrite(VMCS.VMX_INSTRUCTION_INFO, insn_info);
    this.vmwrite(VMCS.IDT_VECTORING_INFO_FIELD, vec === null ? 0 : vec.info);
    this.vmwrite(VMCS.IDT_VECTORING_ERROR_CODE, vec === null ? 0 : vec.error_code);
  }

  private load_guest_state(st: X86State, regs: GuestSoftwareRegs): void {
    for (let i = 0; i < 8; i++) if (i !== ESP) st.gpr[i] = regs.gpr[i];
    st.cr2 = regs.cr2;
    st.gpr[ESP] = this.rd(VMCS.GUEST_RSP);
    st.eip = this.rd(VMCS.GUEST_RIP);
    st.eflags = this.rd(VMCS.GUEST_RFLAGS);
    st.cr0 = this.rd(VMCS.GUEST_CR0);
    st.cr3 = this.rd(VMCS.GUEST_CR3);
    st.cr4 = this.rd(VMCS.GUEST_CR4);
    st.dr[7] = this.rd(VMCS.GUEST_DR7);
    for (let i = 0; i < 6; i++) st.seg[i] = this.rd_seg(GUEST_SEGMENTS[i]);
    st.ldtr = this.rd_seg(GUEST_LDTR);
    st.tr = this.rd_seg(GUEST_TR);
    st.gdtr = { base: this.rd(VMCS.GUEST_GDTR_BASE), limit: this.rd(VMCS.GUEST_GDTR_LIMIT) };
    st.idtr = { base: this.rd(VMCS.GUEST_IDTR_BASE), limit: this.rd(VMCS.GUEST_IDTR_LIMIT) };
    st.interruptibility = this.rd(VMCS.GUEST_INTERRUPTIBILITY_INFO);
    // The SYSENTER MSRs are part of the guest-state area (SDM 24.4.1).
    SYSENTER_MSRS.forEach((m, i) => this.x86.msrs.write(m, BigInt(this.rd(GUEST_SYSENTER_FIELDS[i]) >>> 0)));
    this.x86.flush_tlb(true);
  }

  private save_guest_state(st: X86State, regs: GuestSoftwareRegs): void {
    for (let i = 0; i < 8; i++) if (i !== ESP) regs.gpr[i] = st.gpr[i];
    regs.cr2 = st.cr2;
    this.vmwrite(VMCS.GUEST_RSP, st.gpr[ESP]);
    this.vmwrite(VMCS.GUEST_RIP, st.eip);
    this.vmwrite(VMCS.GUEST_RFLAGS, st.eflags);
    this.vmwrite(VMCS.GUEST_CR0, st.cr0);
    this.vmwrite(VMCS.GUEST_CR3, st.cr3);
    this.vmwrite(VMCS.GUEST_CR4, st.cr4);
    this.vmwrite(VMCS.GUEST_DR7, st.dr[7]);
    for (let i = 0; i < 6; i++) this.wr_seg(GUEST_SEGMENTS[i], st.seg[i]);
    this.wr_seg(GUEST_LDTR, st.ldtr);
    this.wr_seg(GUEST_TR, st.tr);
    this.vmwrite(VMCS.GUEST_GDTR_BASE, st.gdtr.base);
    this.vmwrite(VMCS.GUEST_GDTR_LIMIT, st.gdtr.limit);
    this.vmwrite(VMCS.GUEST_IDTR_BASE, st.idtr.base);
    this.vmwrite(VMCS.GUEST_IDTR_LIMIT, st.idtr.limit);
    this.vmwrite(VMCS.GUEST_INTERRUPTIBILITY_INFO, st.interruptibility);
    SYSENTER_MSRS.forEach((m, i) => this.vmwrite(GUEST_SYSENTER_FIELDS[i], Number((this.x86.msrs.read(m) ?? 0n) & 0xffffffffn)));
  }

  private rd_seg([sel, base, limit, ar]: SegmentFields): SegmentReg {
    return { selector: this.rd(sel), base: this.rd(base), limit: this.rd(limit), attrib: this.rd(ar) };
  }

  private wr_seg([sel, base, limit, ar]: SegmentFields, s: SegmentReg): void {
    this.vmwrite(sel, s.selector);
    this.vmwrite(base, s.base);
    this.vmwrite(limit, s.limit);
    this.vmwrite(ar, s.attrib);
  }

  private rd(field: number): number {
    return this.vmread(field).value;
  }

  private slot_of(field: number): [Hpa, boolean] | null {
    if (this.vmxon_region === null) throw new MachineCheck(`cpu${this.cpu.id}: VMREAD/VMWRITE outside VMX operation (#UD)`);
    if (this.current === null) return null;
    this.check_active(this.current);
    const high = (field & 1) === 1 && field_width(field & ~1) === 1;
    const off = FIELD_SLOT.get(high ? field & ~1 : field);
    if (off === undefined) return null;
    return [(this.current + off) as Hpa, high];
  }

  private read_slot(at: Hpa, field: number): number {
    const w = field_width(field);
    const lo = this.ram.read32(at);
    return w === 0 ? lo & 0xffff : lo;
  }

  private write_slot(at: Hpa, field: number, value: number): void {
    const w = field_width(field);
    this.ram.write32(at, w === 0 ? value & 0xffff : value >>> 0);
  }

  private check_active(vmcs: Hpa): void {
    const a = this.activity.get(vmcs);
    if (a !== undefined && a.cpu !== this.cpu)
      throw new MachineCheck(`cpu${this.cpu.id} uses VMCS at 0x${vmcs.toString(16)}, which is active on cpu${a.cpu.id}`);
  }

  private need_root(insn: string): void {
    if (this.vmxon_region === null) throw new MachineCheck(`cpu${this.cpu.id}: ${insn} outside VMX operation (#UD)`);
  }

  private fail(error: number): VmxStatus {
    if (this.current !== null) {
      const slot = FIELD_SLOT.get(VMCS.VM_INSTRUCTION_ERROR)!;
      this.ram.write32((this.current + slot) as Hpa, error);
    }
    return { ok: false, invalid: false, error };
  }
}

interface HostSnapshot {
  gpr: Uint32Array;
  eip: number;
  eflags: number;
  seg: SegmentReg[];
  ldtr: SegmentReg;
  tr: SegmentReg;
  gdtr: { base: number; limit: number };
  idtr: { base: number; limit: number };
  cr0: number;
  cr2: number;
  cr3: number;
  cr4: number;
  interruptibility: number;
}

/** VM exit loads host state from the VMCS host-state area; the host kernels of this
 *  model keep their state in the X86State while in root operation, so the snapshot
 *  taken at entry is exactly what they wrote into the host-state fields. */
function snapshot(st: X86State): HostSnapshot {
  return {
    gpr: st.gpr.slice(),
    eip: st.eip,
    eflags: st.eflags,
    seg: st.seg.map((s) => ({ ...s })),
    ldtr: { ...st.ldtr },
    tr: { ...st.tr },
    gdtr: { ...st.gdtr },
    idtr: { ...st.idtr },
    cr0: st.cr0,
    cr2: st.cr2,
    cr3: st.cr3,
    cr4: st.cr4,
    interruptibility: st.interruptibility,
  };
}

function restore(st: X86State, h: HostSnapshot): void {
  st.gpr.set(h.gpr);
  st.eip = h.eip;
  st.eflags = h.eflags;
  for (let i = 0; i < 6; i++) st.seg[i] = h.seg[i];
  st.ldtr = h.ldtr;
  st.tr = h.tr;
  st.gdtr = h.gdtr;
  st.idtr = h.idtr;
  st.cr0 = h.cr0;
  st.cr2 = h.cr2;
  st.cr3 = h.cr3;
  st.cr4 = h.cr4;
  // VM exit loads DR7 with 400H (SDM 27.5.1); DR0-DR3 and DR6 keep the guest's values: the
  // hypervisor saves them and restores its own (kvm: vcpu_enter_guest's debug-register switch).
  st.dr[7] = 0x400;
  st.interruptibility = h.interruptibility;
}
