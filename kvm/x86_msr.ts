// The MSRs a guest may read and write (vmx_get_msr / vmx_set_msr), and the list
// KVM_GET_MSR_INDEX_LIST reports. Guest RDMSR/WRMSR always exit (no MSR bitmaps), so
// every access comes here; an MSR not in the list raises #GP in the guest.
// The SYSENTER MSRs live in the VMCS guest-state area; the others in the vcpu.

import { VMCS, vmcs_readl, vmcs_writel } from "../compat/linux/asm/vmx.js";
import { rdmsrl } from "../compat/linux/asm/msr.js";
import type { kvm_vcpu } from "./kvm_host.js";

export const MSR_IA32_TSC = 0x10;
export const MSR_IA32_APICBASE = 0x1b;
export const MSR_IA32_SYSENTER_CS = 0x174;
export const MSR_IA32_SYSENTER_ESP = 0x175;
export const MSR_IA32_SYSENTER_EIP = 0x176;
export const MSR_IA32_MISC_ENABLE = 0x1a0;
export const MSR_EFER = 0xc0000080;

/** msrs_to_save + emulated_msrs: what an i386-class guest CPU has. */
export const msrs_to_save: readonly number[] = [
  MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP, MSR_IA32_TSC, MSR_IA32_APICBASE,
  MSR_IA32_MISC_ENABLE, MSR_EFER,
];

const host_tsc = (): bigint => rdmsrl(MSR_IA32_TSC);

/** The vcpu must be loaded (the SYSENTER MSRs are read from its VMCS). null = #GP. */
export function vmx_get_msr(vcpu: kvm_vcpu, index: number): bigint | null {
  switch (index) {
    case MSR_IA32_SYSENTER_CS:
      return BigInt(vmcs_readl(VMCS.GUEST_SYSENTER_CS) >>> 0);
    case MSR_IA32_SYSENTER_ESP:
      return BigInt(vmcs_readl(VMCS.GUEST_SYSENTER_ESP) >>> 0);
    case MSR_IA32_SYSENTER_EIP:
      return BigInt(vmcs_readl(VMCS.GUEST_SYSENTER_EIP) >>> 0);
    case MSR_IA32_TSC:
      return BigInt.asUintN(64, host_tsc() + vcpu.tsc_offset);
    case MSR_IA32_APICBASE:
      return vcpu.apic_base;
    case MSR_IA32_MISC_ENABLE:
      return vcpu.misc_enable;
    case MSR_EFER:
      return vcpu.efer;
    default:
      return null;
  }
}

/** false = #GP (unknown MSR or a reserved bit set). */
export function vmx_set_msr(vcpu: kvm_vcpu, index: number, data: bigint): boolean {
  const lo = Number(data & 0xffffffffn);
  switch (index) {
    case MSR_IA32_SYSENTER_CS:
      vmcs_writel(VMCS.GUEST_SYSENTER_CS, lo);
      return true;
    case MSR_IA32_SYSENTER_ESP:
      vmcs_writel(VMCS.GUEST_SYSENTER_ESP, lo);
      return true;
    case MSR_IA32_SYSENTER_EIP:
      vmcs_writel(VMCS.GUEST_SYSENTER_EIP, lo);
      return true;
    case MSR_IA32_TSC:
      // Writing the TSC sets the offset the guest's clock runs at (TSC_OFFSET).
      vcpu.tsc_offset = BigInt.asIntN(64, data - host_tsc());
      return true;
    case MSR_IA32_APICBASE:
      // Base [35:12], enable [11], BSP [8] (read-only).
      if ((data & ~0xffffff900n) !== 0n) return false;
      vcpu.apic_base = (data & ~0x100n) | (vcpu.apic_base & 0x100n);
      return true;
    case MSR_IA32_MISC_ENABLE:
      vcpu.misc_enable = data;
      return true;
    case MSR_EFER:
      // No long mode and no NX on this CPU: every EFER bit is reserved.
      if (data !== 0n) return false;
      vcpu.efer = 0n;
      return true;
    default:
      return false;
  }
}
