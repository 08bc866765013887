// The CPU's identity as CPUID reports it: an Intel family-6 model-15 part (the Core 2
// generation that introduced VT-x in 2006) with VMX, PSE, PAE, PGE, TSC and MSR, and
// no x87 or SSE (this model does not implement them, so it does not claim them).
// Both the interpreter's CPUID instruction and host software use this one function.

export interface CpuidResult {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

export const CPUID_1_ECX_VMX = 1 << 5;
export const CPUID_1_EDX_PSE = 1 << 3;
export const CPUID_1_EDX_TSC = 1 << 4;
export const CPUID_1_EDX_MSR = 1 << 5;
export const CPUID_1_EDX_PAE = 1 << 6;
export const CPUID_1_EDX_CX8 = 1 << 8;
export const CPUID_1_EDX_APIC = 1 << 9;
export const CPUID_1_EDX_SEP = 1 << 11;
export const CPUID_1_EDX_PGE = 1 << 13;
export const CPUID_1_EDX_CMOV = 1 << 15;

const MAX_BASIC_LEAF = 1;
const MAX_EXT_LEAF = 0x80000004;

function ascii4(s: string, i: number): number {
  let v = 0;
  for (let k = 3; k >= 0; k--) v = (v << 8) | (s.charCodeAt(i + k) || 0);
  return v >>> 0;
}

const BRAND = "lkvm virtual x86 CPU (VT-x model)".padEnd(48, "\0");

/** CPUID for `leaf` (and `subleaf`) on the CPU whose local APIC id is `apic_id`. */
export function cpuid(leaf: number, _subleaf: number, apic_id: number): CpuidResult {
  leaf >>>= 0;
  if (leaf === 0) {
    // "GenuineIntel" in EBX, EDX, ECX.
    return { eax: MAX_BASIC_LEAF, ebx: 0x756e6547, edx: 0x49656e69, ecx: 0x6c65746e };
  }
  if (leaf === 1) {
    return {
      eax: 0x000006f6, // family 6, model 15, stepping 6
      ebx: ((apic_id & 0xff) << 24) | (1 << 16) | (8 << 8), // APIC id, 1 logical CPU, CLFLUSH 64 bytes
      ecx: CPUID_1_ECX_VMX,
      edx:
        CPUID_1_EDX_PSE | CPUID_1_EDX_TSC | CPUID_1_EDX_MSR | CPUID_1_EDX_PAE | CPUID_1_EDX_CX8 |
        CPUID_1_EDX_APIC | CPUID_1_EDX_SEP | CPUID_1_EDX_PGE | CPUID_1_EDX_CMOV,
    };
  }
  if (leaf === 0x80000000) return { eax: MAX_EXT_LEAF, ebx: 0, ecx: 0, edx: 0 };
  if (leaf === 0x80000001) return { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  if (leaf >= 0x80000002 && leaf <= 0x80000004) {
    const o = (leaf - 0x80000002) * 16;
    return { eax: ascii4(BRAND, o), ebx: ascii4(BRAND, o + 4), ecx: ascii4(BRAND, o + 8), edx: ascii4(BRAND, o + 12) };
  }
  // Leaves above the maximum return the highest basic leaf's data on Intel CPUs.
  if (leaf < 0x80000000) return cpuid(MAX_BASIC_LEAF, 0, apic_id);
  return { eax: 0, ebx: 0, ecx: 0, edx: 0 };
}
