// arch/x86/include/asm/vmx.h and arch/x86/kvm/vmx/vmx_ops.h: VMCS field names and the
// VMX instructions (VMXON, VMPTRLD, VMCLEAR, VMREAD, VMWRITE, VMLAUNCH/VMRESUME) on
// the current CPU. In Linux these are inline assembly in the KVM module; here they
// execute on the simulated CPU, so a VMCS used from the wrong CPU is a machine check.

import type { Hpa } from "../../../machine/addr.js";
import { current_cpu } from "../../../machine/engine.js";
import type { GuestSoftwareRegs, VmxStatus } from "../../../machine/x86/vmx.js";

export * from "../../../machine/x86/vmcs_fields.js";
export type { GuestSoftwareRegs, VmxStatus };

const vmx = () => current_cpu().vmx;

export class VmxInsnError extends Error {
  constructor(insn: string, st: VmxStatus) {
    super(`${insn} failed: ${st.ok ? "ok" : st.invalid ? "VMfailInvalid" : `VMfailValid, VM-instruction error ${st.error}`}`);
    this.name = "VmxInsnError";
  }
}

export const __vmxon = (region: Hpa): VmxStatus => vmx().vmxon(region);
export const __vmxoff = (): VmxStatus => vmx().vmxoff();

export function vmcs_clear(vmcs: Hpa): void {
  const st = vmx().vmclear(vmcs);
  if (!st.ok) throw new VmxInsnError(`vmclear(0x${vmcs.toString(16)})`, st);
}

export function vmcs_load(vmcs: Hpa): void {
  const st = vmx().vmptrld(vmcs);
  if (!st.ok) throw new VmxInsnError(`vmptrld(0x${vmcs.toString(16)})`, st);
}

export function vmcs_readl(field: number): number {
  const r = vmx().vmread(field);
  if (!r.status.ok) throw new VmxInsnError(`vmread(0x${field.toString(16)})`, r.status);
  return r.value;
}
export const vmcs_read16 = (field: number): number => vmcs_readl(field) & 0xffff;
export const vmcs_read32 = (field: number): number => vmcs_readl(field) >>> 0;
export function vmcs_read64(field: number): bigint {
  return BigInt(vmcs_readl(field) >>> 0) | (BigInt(vmcs_readl(field + 1) >>> 0) << 32n);
}

export function vmcs_writel(field: number, value: number): void {
  const st = vmx().vmwrite(field, value);
  if (!st.ok) throw new VmxInsnError(`vmwrite(0x${field.toString(16)}, 0x${value.toString(16)})`, st);
}
export const vmcs_write16 = (field: number, value: number): void => vmcs_writel(field, value & 0xffff);
export const vmcs_write32 = (field: number, value: number): void => vmcs_writel(field, value >>> 0);
export function vmcs_write64(field: number, value: bigint): void {
  vmcs_writel(field, Number(value & 0xffffffffn));
  vmcs_writel(field + 1, Number((value >> 32n) & 0xffffffffn));
}

/** VMLAUNCH or VMRESUME with the guest's software-held registers (vmx_vcpu_run's asm). */
export const __vmx_vcpu_run = (launched: boolean, regs: GuestSoftwareRegs): VmxStatus => vmx().enter(!launched, regs);
