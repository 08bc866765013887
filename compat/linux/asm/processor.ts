// arch/x86/include/asm/processor.h, special_insns.h, tlbflush.h: CPUID and control
// registers of the current CPU.

import { current_cpu } from "../../../machine/engine.js";
import { cpuid as cpu_cpuid, type CpuidResult } from "../../../machine/x86/cpuid.js";

export const X86_CR4_VMXE = 1 << 13;
export const X86_CR0_PE = 1 << 0;
export const X86_CR0_TS = 1 << 3;
export const X86_CR0_NE = 1 << 5;
export const X86_CR0_WP = 1 << 16;
export const X86_CR0_PG = 1 << 31;
export const X86_CR4_PSE = 1 << 4;
export const X86_CR4_PAE = 1 << 5;
export const X86_CR4_PGE = 1 << 7;
export const X86_EFLAGS_IF = 1 << 9;

export function cpuid(leaf: number, subleaf = 0): CpuidResult {
  const cpu = current_cpu();
  return cpu_cpuid(leaf, subleaf, cpu.id);
}

/** cpu_has_vmx(): CPUID.1:ECX.VMX[bit 5]. */
export const cpu_has_vmx = (): boolean => (cpuid(1).ecx & (1 << 5)) !== 0;

export const __read_cr4 = (): number => current_cpu().x86.state.cr4 >>> 0;
export function cr4_set_bits(mask: number): void {
  const st = current_cpu().x86.state;
  st.cr4 = (st.cr4 | mask) >>> 0;
}
export function cr4_clear_bits(mask: number): void {
  const st = current_cpu().x86.state;
  st.cr4 = (st.cr4 & ~mask) >>> 0;
}
