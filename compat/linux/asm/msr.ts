// arch/x86/include/asm/msr.h: RDMSR/WRMSR on the current CPU.
// DIVERGENCE (name clash, seed 000 "Add rdmsrl and wrmsrl, using FreeBSD equivalents"):
// Linux's two-register rdmsr(msr, lo, hi) collides with FreeBSD's rdmsr(); like the
// port and LinuxKPI, only the 64-bit forms rdmsrl/wrmsrl are offered to modules.

import { current_cpu } from "../../../machine/engine.js";

export class MsrFault extends Error {
  constructor(msr: number, write: boolean) {
    super(`unchecked MSR access error: ${write ? "WRMSR to" : "RDMSR from"} 0x${msr.toString(16)} (#GP)`);
    this.name = "MsrFault";
  }
}

export function rdmsrl(msr: number): bigint {
  const v = current_cpu().x86.msrs.read(msr);
  if (v === undefined) throw new MsrFault(msr, false);
  return v;
}

export function wrmsrl(msr: number, val: bigint): void {
  if (!current_cpu().x86.msrs.write(msr, val)) throw new MsrFault(msr, true);
}

/** rdmsrl_safe: 0 and the value, or -EIO (the #GP was caught by the exception table). */
export function rdmsrl_safe(msr: number): { err: number; val: bigint } {
  const v = current_cpu().x86.msrs.read(msr);
  return v === undefined ? { err: -5, val: 0n } : { err: 0, val: v };
}
