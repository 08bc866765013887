// The CPUID, RDMSR and WRMSR instructions. The identity itself is cpuid.ts and the MSR
// contents msr.ts (shared with host software); this file is what the instructions do:
// CPL 0 only for RDMSR/WRMSR (#GP, which has priority over a VM exit), an unimplemented
// MSR or a refused write is #GP(0), and in VMX non-root operation CPUID always exits and
// RDMSR/WRMSR exit (this VT-x model has no MSR bitmaps).

import type { Stop } from "./cpu.js";
import type { Core } from "./core.js";
import type { Insn } from "./decode.js";
import { gp } from "./fault.js";
import { cpuid as cpuid_values } from "./cpuid.js";
import { EAX, EBX, ECX, EDX } from "./state.js";

export function cpuid(c: Core, d: Insn): Stop | null {
  if (c.cpu.vmx !== null) return { kind: "cpuid", insn_len: d.len };
  const g = c.s.gpr;
  const r = cpuid_values(g[EAX], g[ECX], 0);
  g[EAX] = r.eax; g[EBX] = r.ebx; g[ECX] = r.ecx; g[EDX] = r.edx;
  return null;
}

export function rdmsr(c: Core, d: Insn): Stop | null {
  if (c.pe && c.cpl !== 0) gp(0);
  if (c.cpu.vmx !== null) return { kind: "rdmsr", insn_len: d.len };
  const g = c.s.gpr;
  const v = c.cpu.msrs.read(g[ECX]);
  if (v === undefined) return gp(0);
  g[EAX] = Number(v & 0xffffffffn);
  g[EDX] = Number((v >> 32n) & 0xffffffffn);
  return null;
}

export function wrmsr(c: Core, d: Insn): Stop | null {
  if (c.pe && c.cpl !== 0) gp(0);
  if (c.cpu.vmx !== null) return { kind: "wrmsr", insn_len: d.len };
  const g = c.s.gpr;
  if (!c.cpu.msrs.write(g[ECX], (BigInt(g[EDX]) << 32n) | BigInt(g[EAX]))) gp(0);
  return null;
}
