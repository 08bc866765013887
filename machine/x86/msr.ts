// Model-specific registers of one physical CPU: what RDMSR/WRMSR reach, for the host
// kernel (through its rdmsr/wrmsr wrappers) and for bare-metal code. An index the CPU
// does not implement raises #GP, which the caller sees as `undefined` / false.

import {
  FEATURE_CONTROL_LOCKED,
  FEATURE_CONTROL_VMXON_ENABLED_OUTSIDE_SMX,
  MSR_IA32_FEATURE_CONTROL,
  MSR_IA32_VMX_BASIC,
  MSR_IA32_VMX_CR0_FIXED0,
  MSR_IA32_VMX_CR0_FIXED1,
  MSR_IA32_VMX_CR4_FIXED0,
  MSR_IA32_VMX_CR4_FIXED1,
  MSR_IA32_VMX_ENTRY_CTLS,
  MSR_IA32_VMX_EXIT_CTLS,
  MSR_IA32_VMX_PINBASED_CTLS,
  MSR_IA32_VMX_EPT_VPID_CAP,
  MSR_IA32_VMX_PROCBASED_CTLS,
  MSR_IA32_VMX_PROCBASED_CTLS2,
  SECONDARY_EXEC_ENABLE_EPT,
  SECONDARY_EXEC_UNRESTRICTED_GUEST,
  VMCS_REVISION_ID,
  VMX_EPT_2MB_PAGE_BIT,
  VMX_EPT_PAGE_WALK_4_BIT,
  VMX_EPTP_UC_BIT,
  VMX_EPTP_WB_BIT,
} from "./vmcs_fields.js";

export const MSR_IA32_TSC = 0x10;
export const MSR_IA32_APICBASE = 0x1b;
export const MSR_IA32_SYSENTER_CS = 0x174;
export const MSR_IA32_SYSENTER_ESP = 0x175;
export const MSR_IA32_SYSENTER_EIP = 0x176;
export const MSR_IA32_MISC_ENABLE = 0x1a0;
export const MSR_EFER = 0xc0000080;
export const MSR_STAR = 0xc0000081;
export const MSR_LSTAR = 0xc0000082;
export const MSR_CSTAR = 0xc0000083;
export const MSR_SYSCALL_MASK = 0xc0000084;
export const MSR_FS_BASE = 0xc0000100;
export const MSR_GS_BASE = 0xc0000101;
export const MSR_KERNEL_GS_BASE = 0xc0000102;

/** Read-only capability MSRs: what this model's VT-x implements.
 *  allowed-0 settings in bits 31:0, allowed-1 settings in bits 63:32. */
const VMX_CAPS: ReadonlyMap<number, bigint> = new Map([
  // revision id, VMCS region size 4096 (bits 44:32), memory type WB (6) in bits 53:50.
  [MSR_IA32_VMX_BASIC, BigInt(VMCS_REVISION_ID) | (4096n << 32n) | (6n << 50n)],
  [MSR_IA32_VMX_PINBASED_CTLS, 0x00000016n | (0x0000003fn << 32n)],
  [MSR_IA32_VMX_PROCBASED_CTLS, 0x0401e172n | (0xfff9fffen << 32n)],
  [MSR_IA32_VMX_EXIT_CTLS, 0x00036dffn | (0x003fffffn << 32n)],
  [MSR_IA32_VMX_ENTRY_CTLS, 0x000011ffn | (0x0000ffffn << 32n)],
  // This model's extension: CR0.PE and CR0.PG need not be set in VMX operation (see vmx.ts).
  [MSR_IA32_VMX_CR0_FIXED0, 0x00000020n],
  [MSR_IA32_VMX_CR0_FIXED1, 0xffffffffn],
  [MSR_IA32_VMX_CR4_FIXED0, 0x00002000n],
  [MSR_IA32_VMX_CR4_FIXED1, 0x000027ffn],
  // Secondary controls: EPT and unrestricted guest may be 1, nothing must be.
  [MSR_IA32_VMX_PROCBASED_CTLS2, BigInt(SECONDARY_EXEC_ENABLE_EPT | SECONDARY_EXEC_UNRESTRICTED_GUEST) << 32n],
  // EPT: 4-level walks, UC or WB paging structures, 2 MiB pages; no execute-only
  // translations, 1 GiB pages, accessed/dirty flags or INVEPT (VM entry flushes).
  [MSR_IA32_VMX_EPT_VPID_CAP, BigInt(VMX_EPT_PAGE_WALK_4_BIT | VMX_EPTP_UC_BIT | VMX_EPTP_WB_BIT | VMX_EPT_2MB_PAGE_BIT)],
]);

export class MsrFile {
  private readonly values = new Map<number, bigint>([
    // Firmware locked the feature control MSR with VMXON allowed, as a BIOS with VT enabled does.
    [MSR_IA32_FEATURE_CONTROL, BigInt(FEATURE_CONTROL_LOCKED | FEATURE_CONTROL_VMXON_ENABLED_OUTSIDE_SMX)],
    [MSR_IA32_APICBASE, 0xfee00900n],
    [MSR_IA32_SYSENTER_CS, 0n],
    [MSR_IA32_SYSENTER_ESP, 0n],
    [MSR_IA32_SYSENTER_EIP, 0n],
    [MSR_IA32_MISC_ENABLE, 1n],
    [MSR_EFER, 0n],
    [MSR_STAR, 0n],
    [MSR_LSTAR, 0n],
    [MSR_CSTAR, 0n],
    [MSR_SYSCALL_MASK, 0n],
    [MSR_FS_BASE, 0n],
    [MSR_GS_BASE, 0n],
    [MSR_KERNEL_GS_BASE, 0n],
  ]);

  /** @param tsc reads the CPU's time-stamp counter for IA32_TSC. */
  constructor(private readonly tsc: () => number) {}

  /** RDMSR: the value, or undefined for #GP. */
  read(index: number): bigint | undefined {
    if (index === MSR_IA32_TSC) return BigInt(Math.floor(this.tsc()));
    return VMX_CAPS.get(index) ?? this.values.get(index);
  }

  /** WRMSR: false for #GP (unknown MSR, read-only MSR, or a write to a locked feature control). */
  write(index: number, value: bigint): boolean {
    if (VMX_CAPS.has(index) || index === MSR_IA32_TSC) return false;
    if (!this.values.has(index)) return false;
    if (index === MSR_IA32_FEATURE_CONTROL && (this.values.get(index)! & BigInt(FEATURE_CONTROL_LOCKED)) !== 0n)
      return false;
    this.values.set(index, BigInt.asUintN(64, value));
    return true;
  }
}
