// arch/x86/include/asm/debugreg.h: the debug registers of the current CPU (MOV to/from
// DRn in ring 0). kvm loads a guest's DR0-DR3 and DR6 with them before VM entry and reads
// them back after the exit: VM exit sets DR7 to 400H but leaves DR0-DR3 and DR6 as the
// guest left them (SDM 27.5.1).

import { current_cpu } from "../../../machine/engine.js";

export const DR6_ACTIVE_LOW = 0xffff0ff0;
export const DR6_BD = 1 << 13;
export const DR6_BS = 1 << 14;
export const DR7_FIXED_1 = 0x400;
export const DR7_GD = 1 << 13;
/** DR7 bits a write keeps: 11, 12, 14 and 15 read as 0 (bit 11 is RTM's on CPUs that have it). */
export const DR7_VOLATILE = 0xffff27ff;

/** get_debugreg(regno): DR0-DR3, DR6 or DR7. */
export function get_debugreg(regno: number): number {
  return current_cpu().x86.state.dr[regno] >>> 0;
}

/** set_debugreg(value, regno). */
export function set_debugreg(value: number, regno: number): void {
  current_cpu().x86.state.dr[regno] = value >>> 0;
}
