// Control and debug registers: MOV to/from CR0 CR2 CR3 CR4, CLTS, LMSW, SMSW, MOV DRn, and
// how VMX non-root operation intercepts them (SDM Vol. 3C 25.1.3 and 25.3):
//   - a guest read of CR0/CR4 sees the read shadow in the bits the guest/host mask owns;
//   - MOV to CR0/CR4 exits when, in an owned bit, the source differs from the read shadow;
//     otherwise owned bits keep their value;
//   - CLTS exits when CR0.TS is owned and set in the shadow; LMSW exits when it would set an
//     owned PE that the shadow has clear, or change an owned MP/EM/TS from the shadow;
//   - MOV to/from CR3 exit with the CR3-load/-store exiting controls.
// Exit qualification for control-register accesses (SDM Vol. 3C Table 28-3): bits 3:0 CR
// number, 5:4 access type (0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW), bit 6 LMSW operand
// type (1 = memory), bits 11:8 the general-purpose register, bits 31:16 the LMSW source.

import type { Stop } from "./cpu.js";
import type { Core } from "./core.js";
import type { Insn } from "./decode.js";
import { gp, ud } from "./fault.js";
import { CR4_DE, DR6_FIXED_1, DR7_FIXED_1, DR7_GD, general_detect, sync_debug } from "./debug.js";
import { CR0_ET, CR0_NW, CR0_CD, CR0_PE, CR0_PG, CR0_TS, CR0_WP, CR4_PGE, CR4_PSE, CR4_PAE } from "./state.js";

/** CR4 bits this CPU accepts: VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT VMXE.
 *  (VME/PVI are accepted but virtual-8086 mode itself is not modelled.) */
const CR4_VALID = 0x27ff;

function cr_exit(d: Insn, cr: number, type: number, extra = 0): Stop {
  return { kind: "cr_access", insn_len: d.len, qualification: (cr | (type << 4) | (d.rm << 8) | extra) >>> 0 };
}

function check_priv(c: Core): void {
  if (c.pe && c.cpl !== 0) gp(0);
}

/** CR0 as the guest reads it. */
export function read_cr0(c: Core): number {
  const vmx = c.cpu.vmx;
  const v = c.s.cr0;
  return vmx === null ? v : ((v & ~vmx.cr0_guest_host_mask) | (vmx.cr0_read_shadow & vmx.cr0_guest_host_mask)) >>> 0;
}
function read_cr4(c: Core): number {
  const vmx = c.cpu.vmx;
  const v = c.s.cr4;
  return vmx === null ? v : ((v & ~vmx.cr4_guest_host_mask) | (vmx.cr4_read_shadow & vmx.cr4_guest_host_mask)) >>> 0;
}

export function smsw_value(c: Core): number {
  return read_cr0(c);
}

export function mov_from_cr(c: Core, d: Insn): Stop | null {
  check_priv(c);
  const s = c.s, vmx = c.cpu.vmx;
  let v: number;
  switch (d.reg) {
    case 0: v = read_cr0(c); break;
    case 2: v = s.cr2; break;
    case 3:
      if (vmx !== null && vmx.cr3_store_exiting) return cr_exit(d, 3, 1);
      v = s.cr3; break;
    case 4: v = read_cr4(c); break;
    default: return ud();
  }
  s.gpr[d.rm] = v >>> 0;
  return null;
}

/** Write CR0 with the architectural checks: PG without PE and NW without CD are #GP(0)
 *  (allowed in VMX non-root operation, where the hypervisor's CR0 is in force). */
function write_cr0(c: Core, v: number): void {
  const s = c.s;
  v = (v | CR0_ET) >>> 0;
  if (c.cpu.vmx === null) {
    if ((v & CR0_PG) !== 0 && (v & CR0_PE) === 0) gp(0);
    if ((v & CR0_NW) !== 0 && (v & CR0_CD) === 0) gp(0);
  }
  const old = s.cr0;
  s.cr0 = v;
  // Changing PG, PE or WP invalidates every cached translation and permission.
  if (((old ^ v) & (CR0_PG | CR0_PE | CR0_WP)) !== 0) c.flush_tlb(false);
  c.sync_mode();
  for (let i = 0; i < 6; i++) c.sync_seg(i);
}

export function mov_to_cr(c: Core, d: Insn): Stop | null {
  check_priv(c);
  const s = c.s, vmx = c.cpu.vmx;
  const v = s.gpr[d.rm];
  switch (d.reg) {
    case 0: {
      if (vmx !== null) {
        const m = vmx.cr0_guest_host_mask;
        if (((v ^ vmx.cr0_read_shadow) & m) !== 0) return cr_exit(d, 0, 0);
        write_cr0(c, ((v & ~m) | (s.cr0 & m)) >>> 0);
      } else write_cr0(c, v);
      return null;
    }
    case 2: s.cr2 = v; return null;
    case 3:
      if (vmx !== null && vmx.cr3_load_exiting) return cr_exit(d, 3, 0);
      s.cr3 = v;
      c.flush_tlb(true);
      c.sync_mode();
      return null;
    case 4: {
      let nv = v;
      if (vmx !== null) {
        const m = vmx.cr4_guest_host_mask;
        if (((v ^ vmx.cr4_read_shadow) & m) !== 0) return cr_exit(d, 4, 0);
        nv = ((v & ~m) | (s.cr4 & m)) >>> 0;
      }
      if ((nv & ~CR4_VALID) !== 0) gp(0);
      const old = s.cr4;
      s.cr4 = nv;
      if (((old ^ nv) & (CR4_PGE | CR4_PSE | CR4_PAE)) !== 0) c.flush_tlb(false);
      c.sync_mode();
      sync_debug(c); // CR4.DE decides whether R/W 10 is an I/O breakpoint
      return null;
    }
  }
  return ud();
}

export function clts(c: Core, d: Insn): Stop | null {
  check_priv(c);
  const vmx = c.cpu.vmx;
  if (vmx !== null && (vmx.cr0_guest_host_mask & CR0_TS) !== 0) {
    if ((vmx.cr0_read_shadow & CR0_TS) !== 0) return { kind: "cr_access", insn_len: d.len, qualification: 2 << 4 };
    return null;
  }
  c.s.cr0 = (c.s.cr0 & ~CR0_TS) >>> 0;
  return null;
}

/** LMSW: loads CR0 bits 3:0 (PE MP EM TS); it can set PE but never clear it. */
export function lmsw(c: Core, d: Insn, src: number): Stop | null {
  check_priv(c);
  const s = c.s, vmx = c.cpu.vmx;
  let mask = 0xf;
  if (vmx !== null) {
    const m = vmx.cr0_guest_host_mask & 0xf, sh = vmx.cr0_read_shadow;
    if (((m & 1) !== 0 && (sh & 1) === 0 && (src & 1) !== 0) || ((src ^ sh) & m & 0xe) !== 0)
      return { kind: "cr_access", insn_len: d.len, qualification: ((3 << 4) | (d.mod !== 3 ? 1 << 6 : 0) | ((src & 0xffff) << 16)) >>> 0 };
    mask &= ~m;
  }
  const nv = ((s.cr0 & ~(mask & 0xe)) | (src & mask & 0xe) | (s.cr0 & 1) | (src & mask & 1)) >>> 0;
  if (nv !== s.cr0) write_cr0(c, nv);
  return null;
}

/** MOV to/from DR0-DR7 (debug.ts says what they do). Checked in order: CPL 0 (#GP), DR4/DR5
 *  with CR4.DE=1 (#UD; otherwise they alias DR6/DR7), MOV-DR exiting (the VM exit takes
 *  precedence over general detect), DR7.GD (a #DB fault with DR6.BD). DR6 and DR7 keep
 *  their fixed bits. The exit qualification (SDM Table 28-4): DR number [2:0], direction [4]
 *  (1 = MOV from DR), general-purpose register [11:8]. */
export function mov_dr(c: Core, d: Insn, to: boolean): Stop | null {
  check_priv(c);
  const s = c.s;
  let n = d.reg;
  if (n === 4 || n === 5) {
    if ((s.cr4 & CR4_DE) !== 0) ud();
    n += 2;
  }
  const vmx = c.cpu.vmx;
  if (vmx !== null && vmx.mov_dr_exiting === true)
    return { kind: "dr_access", insn_len: d.len, qualification: (d.reg & 7) | (to ? 0 : 0x10) | (d.rm << 8) };
  if ((s.dr[7] & DR7_GD) !== 0) general_detect();
  if (to) {
    let v = s.gpr[d.rm];
    if (n === 6) v = (v | DR6_FIXED_1) >>> 0;
    else if (n === 7) v = ((v | DR7_FIXED_1) & ~0xd800) >>> 0;
    s.dr[n] = v;
    if (n === 7) sync_debug(c);
  } else {
    s.gpr[d.rm] = s.dr[n] >>> 0;
  }
  return null;
}
