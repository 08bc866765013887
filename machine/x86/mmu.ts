// Linear-to-physical translation and physical access: the i386 two-level page walk,
// the TLB, and the split between RAM and MMIO.
//
// 32-bit paging (SDM Vol. 3A 4.3), CR3 bits 31:12 = page-directory base:
//   linear 31:22 index the page directory, 21:12 the page table, 11:0 the byte.
//   PDE/PTE bit 0 P, 1 R/W, 2 U/S, 3 PWT, 4 PCD, 5 A (accessed), 6 D (dirty, PTE or 4 MiB PDE),
//   7 PS in a PDE (4 MiB page when CR4.PSE=1; bits 31:22 are then the frame), 8 G (global, CR4.PGE).
// Access rights are the AND of both levels' R/W and U/S. A user access needs U/S=1; a user
// write needs R/W=1; a supervisor write needs R/W=1 only when CR0.WP=1. The walk sets A in
// every entry it uses and D in the final entry on a write. #PF error code: bit 0 P (0 = not
// present, 1 = protection), bit 1 W/R, bit 2 U/S (CPL 3 access).
//
// With EPT (ept.ts) the addresses above are guest-physical: each paging-structure entry
// is read (and its A/D update written) through the EPT, and so is the final address. The
// guest's #PF conditions are checked before the final EPT translation, so a guest page
// fault wins over an EPT violation on the page it would have reached.

import { PAGE_SHIFT } from "../addr.js";
import type { Pfn } from "../addr.js";
import { Core, TLB_D, TLB_EPT_ALL, TLB_ER, TLB_EW, TLB_EX, TLB_G, TLB_MASK, TLB_U, TLB_W } from "./core.js";
import { EPT_R, EPT_W, EPT_X, ept_translate } from "./ept.js";
import { page_fault } from "./fault.js";
import { CR4_PAE } from "./state.js";

// ---- physical access ----------------------------------------------------------------

function frame_of(c: Core, ppn: number): Uint8Array | null {
  return ppn < c.ram_pages ? c.ram.frame(ppn as Pfn) : null;
}

export function phys_read(c: Core, pa: number, size: 1 | 2 | 4): number {
  pa = (pa & c.cpu.a20_mask) >>> 0;
  const ppn = pa >>> PAGE_SHIFT, off = pa & 0xfff;
  if (ppn < c.ram_pages && off + size <= 4096) {
    const f = c.ram.frame(ppn as Pfn);
    if (size === 1) return f[off];
    if (size === 2) return f[off] | (f[off + 1] << 8);
    return (f[off] | (f[off + 1] << 8) | (f[off + 2] << 16) | (f[off + 3] << 24)) >>> 0;
  }
  if (ppn >= c.ram_pages && off + size <= 4096) return c.bus.mmio_read(pa, size);
  let v = 0;
  for (let i = 0; i < size; i++) v += phys_read(c, pa + i, 1) * 2 ** (8 * i);
  return v;
}

export function phys_write(c: Core, pa: number, size: 1 | 2 | 4, v: number): void {
  pa = (pa & c.cpu.a20_mask) >>> 0;
  const ppn = pa >>> PAGE_SHIFT, off = pa & 0xfff;
  if (ppn < c.ram_pages && off + size <= 4096) {
    const f = c.ram.frame(ppn as Pfn);
    f[off] = v;
    if (size >= 2) f[off + 1] = v >>> 8;
    if (size === 4) { f[off + 2] = v >>> 16; f[off + 3] = v >>> 24; }
    return;
  }
  if (ppn >= c.ram_pages && off + size <= 4096) { c.bus.mmio_write(pa, size, size === 4 ? v >>> 0 : v & (size === 1 ? 0xff : 0xffff)); return; }
  for (let i = 0; i < size; i++) phys_write(c, pa + i, 1, (v >>> (8 * i)) & 0xff);
}

// ---- translation --------------------------------------------------------------------

/** Read a guest paging-structure entry at guest-physical `gpa` during the walk for `lin`. */
function pt_read(c: Core, gpa: number, lin: number): number {
  if (c.ept_root < 0) return phys_read(c, gpa, 4);
  const r = ept_translate(c, c.ept_root, gpa, EPT_R, lin, false);
  return phys_read(c, (r >>> 3) * 4096 + (gpa & 0xfff), 4);
}

/** Write back a paging-structure entry with its accessed/dirty bits set (an EPT write). */
function pt_write(c: Core, gpa: number, v: number, lin: number): void {
  if (c.ept_root < 0) { phys_write(c, gpa, 4, v); return; }
  const r = ept_translate(c, c.ept_root, gpa, EPT_W, lin, false);
  phys_write(c, (r >>> 3) * 4096 + (gpa & 0xfff), 4, v);
}

/** Walk the page tables for `lin` and fill the TLB entry; faults if the access is not allowed. */
function walk(c: Core, lin: number, write: boolean, user: boolean, exec: boolean): void {
  const lpn = lin >>> 12, i = lpn & TLB_MASK;
  const s = c.s;
  let ppn: number, bits: number;
  if (!c.pg) {
    ppn = ((lin & c.cpu.a20_mask) >>> 0) >>> 12;
    bits = TLB_U | TLB_W | TLB_D;
  } else if ((s.cr4 & CR4_PAE) !== 0) {
    const r = pae_walk(c, lin, write, user);
    ppn = r >>> 4;
    bits = r & 0xf;
    ppn = ((ppn << 12) & c.cpu.a20_mask) >>> 12;
  } else {
    const ec = (write ? 2 : 0) | (user ? 4 : 0);
    const pde_pa = ((s.cr3 & 0xfffff000) | ((lin >>> 22) << 2)) >>> 0;
    const pde = pt_read(c, pde_pa, lin);
    if ((pde & 1) === 0) page_fault(lin, ec);
    if ((pde & 0x80) !== 0 && c.pse) {
      const u = (pde & 4) !== 0, w = (pde & 2) !== 0;
      check_rights(c, lin, write, user, u, w);
      const upd = pde | 0x20 | (write ? 0x40 : 0);
      if (upd !== pde) pt_write(c, pde_pa, upd >>> 0, lin);
      ppn = ((pde & 0xffc00000) >>> 12) | ((lin >>> 12) & 0x3ff);
      bits = (u ? TLB_U : 0) | (w ? TLB_W : 0) | ((upd & 0x40) !== 0 ? TLB_D : 0) | ((pde & 0x100) !== 0 && c.pge ? TLB_G : 0);
    } else {
      const pte_pa = ((pde & 0xfffff000) | (((lin >>> 12) & 0x3ff) << 2)) >>> 0;
      const pte = pt_read(c, pte_pa, lin);
      if ((pte & 1) === 0) page_fault(lin, ec);
      const u = (pde & pte & 4) !== 0, w = (pde & pte & 2) !== 0;
      check_rights(c, lin, write, user, u, w);
      if ((pde & 0x20) === 0) pt_write(c, pde_pa, (pde | 0x20) >>> 0, lin);
      const upd = pte | 0x20 | (write ? 0x40 : 0);
      if (upd !== pte) pt_write(c, pte_pa, upd >>> 0, lin);
      ppn = pte >>> 12;
      bits = (u ? TLB_U : 0) | (w ? TLB_W : 0) | ((upd & 0x40) !== 0 ? TLB_D : 0) | ((pte & 0x100) !== 0 && c.pge ? TLB_G : 0);
    }
    ppn = ((ppn << 12) & c.cpu.a20_mask) >>> 12;
  }
  if (c.ept_root < 0) {
    bits |= TLB_EPT_ALL;
  } else {
    // ppn is guest-physical: the combined translation goes through the EPT.
    const r = ept_translate(c, c.ept_root, ppn * 4096 + (lin & 0xfff), exec ? EPT_X : write ? EPT_W : EPT_R, lin, true);
    ppn = r >>> 3;
    bits |= (r & 7) << 4;
  }
  c.tlb_tag[i] = lpn;
  c.tlb_ppn[i] = ppn;
  c.tlb_bits[i] = bits;
  c.tlb_frame[i] = frame_of(c, ppn);
  c.fast_r[i] = -1;
  c.fast_w[i] = -1;
}

/** PAE paging (SDM Vol. 3A 4.4): CR3 bits 31:5 point at four 8-byte PDPTEs indexed by
 *  linear 31:30; the page directory (linear 29:21) and page table (20:12) hold 8-byte
 *  entries with the same low bits as 32-bit paging; PS=1 in a PDE maps a 2 MiB page.
 *  This CPU's physical addresses are 32 bits: entry bits 63:32 (and XD, not advertised)
 *  are ignored. PDPTEs are read at walk time rather than cached at CR3 load.
 *  Returns ppn << 4 | TLB bits. */
function pae_walk(c: Core, lin: number, write: boolean, user: boolean): number {
  const ec = (write ? 2 : 0) | (user ? 4 : 0);
  const pdpte = pt_read(c, ((c.s.cr3 & 0xffffffe0) + (lin >>> 30) * 8) >>> 0, lin);
  if ((pdpte & 1) === 0) page_fault(lin, ec);
  const pde_pa = ((pdpte & 0xfffff000) + ((lin >>> 21) & 0x1ff) * 8) >>> 0;
  const pde = pt_read(c, pde_pa, lin);
  if ((pde & 1) === 0) page_fault(lin, ec);
  let ppn: number, u: boolean, w: boolean, upd: number, g: boolean;
  if ((pde & 0x80) !== 0) {
    u = (pde & 4) !== 0; w = (pde & 2) !== 0;
    check_rights(c, lin, write, user, u, w);
    upd = pde | 0x20 | (write ? 0x40 : 0);
    if (upd !== pde) pt_write(c, pde_pa, upd >>> 0, lin);
    ppn = ((pde & 0xffe00000) >>> 12) | ((lin >>> 12) & 0x1ff);
    g = (pde & 0x100) !== 0;
  } else {
    const pte_pa = ((pde & 0xfffff000) + ((lin >>> 12) & 0x1ff) * 8) >>> 0;
    const pte = pt_read(c, pte_pa, lin);
    if ((pte & 1) === 0) page_fault(lin, ec);
    u = (pde & pte & 4) !== 0; w = (pde & pte & 2) !== 0;
    check_rights(c, lin, write, user, u, w);
    if ((pde & 0x20) === 0) pt_write(c, pde_pa, (pde | 0x20) >>> 0, lin);
    upd = pte | 0x20 | (write ? 0x40 : 0);
    if (upd !== pte) pt_write(c, pte_pa, upd >>> 0, lin);
    ppn = pte >>> 12;
    g = (pte & 0x100) !== 0;
  }
  const bits = (u ? TLB_U : 0) | (w ? TLB_W : 0) | ((upd & 0x40) !== 0 ? TLB_D : 0) | (g && c.pge ? TLB_G : 0);
  return ppn * 16 + bits;
}

function check_rights(c: Core, lin: number, write: boolean, user: boolean, u: boolean, w: boolean): void {
  if (user ? !u || (write && !w) : write && !w && c.wp)
    page_fault(lin, 1 | (write ? 2 : 0) | (user ? 4 : 0));
}

/** Translate `lin` for an access by a CPL-3 (`user`) or supervisor access, an
 *  instruction fetch when `exec`; returns the TLB slot. A cached entry whose EPT rights
 *  do not cover the access is walked again, so the violation is reported as the walk finds it. */
export function translate(c: Core, lin: number, write: boolean, user: boolean, exec = false): number {
  const lpn = lin >>> 12, i = lpn & TLB_MASK;
  const need = exec ? TLB_EX : write ? TLB_EW : TLB_ER;
  if (c.tlb_tag[i] !== lpn || (write && (c.tlb_bits[i] & TLB_D) === 0) || (c.tlb_bits[i] & need) === 0) {
    walk(c, lin, write, user, exec);
  } else {
    const b = c.tlb_bits[i];
    check_rights(c, lin, write, user, (b & TLB_U) !== 0, (b & TLB_W) !== 0);
  }
  if (user === (c.cpl === 3)) {
    const b = c.tlb_bits[i];
    if ((b & TLB_ER) !== 0) c.fast_r[i] = lpn;
    if ((b & (TLB_D | TLB_EW)) === (TLB_D | TLB_EW) && ((b & TLB_W) !== 0 || (!user && !c.wp))) c.fast_w[i] = lpn;
  }
  return i;
}

/** One byte of an instruction at `lin` (an instruction fetch: EPT execute rights). */
export function lin_fetch8(c: Core, lin: number): number {
  if (c.ept_root < 0) return lin_read8(c, lin);
  const i = translate(c, lin, false, c.cpl === 3, true);
  const f = c.tlb_frame[i];
  return f !== null ? f[lin & 0xfff] : c.bus.mmio_read(c.tlb_ppn[i] * 4096 + (lin & 0xfff), 1);
}

/** Physical address of `lin` for the given access (faults as the access would). */
export function lin_to_phys(c: Core, lin: number, write: boolean, user: boolean): number {
  const i = translate(c, lin >>> 0, write, user);
  return c.tlb_ppn[i] * 4096 + (lin & 0xfff);
}

// ---- linear access at the current privilege level -------------------------------------

function slow_read(c: Core, lin: number, size: number, user: boolean): number {
  let v = 0;
  const first = 4096 - (lin & 0xfff);
  if (first >= size) {
    const i = translate(c, lin, false, user);
    const f = c.tlb_frame[i];
    const off = lin & 0xfff;
    if (f !== null) {
      for (let k = size - 1; k >= 0; k--) v = v * 256 + f[off + k];
      return v;
    }
    return c.bus.mmio_read(c.tlb_ppn[i] * 4096 + off, size as 1 | 2 | 4);
  }
  for (let k = 0; k < size; k++) {
    const a = (lin + k) >>> 0;
    const i = translate(c, a, false, user);
    const f = c.tlb_frame[i];
    const b = f !== null ? f[a & 0xfff] : c.bus.mmio_read(c.tlb_ppn[i] * 4096 + (a & 0xfff), 1);
    v += b * 2 ** (8 * k);
  }
  return v;
}

function slow_write(c: Core, lin: number, size: number, v: number, user: boolean): void {
  const first = 4096 - (lin & 0xfff);
  if (first >= size) {
    const i = translate(c, lin, true, user);
    const f = c.tlb_frame[i];
    const off = lin & 0xfff;
    if (f !== null) {
      for (let k = 0; k < size; k++) f[off + k] = v >>> (8 * k);
    } else {
      c.bus.mmio_write(c.tlb_ppn[i] * 4096 + off, size as 1 | 2 | 4, size === 4 ? v >>> 0 : v & (size === 1 ? 0xff : 0xffff));
    }
    return;
  }
  // Both pages are checked before either is written: the store faults as a whole.
  const lin2 = (lin + first) >>> 0;
  translate(c, lin, true, user);
  translate(c, lin2, true, user);
  for (let k = 0; k < size; k++) {
    const a = (lin + k) >>> 0;
    const i = translate(c, a, true, user);
    const f = c.tlb_frame[i];
    if (f !== null) f[a & 0xfff] = v >>> (8 * k);
    else c.bus.mmio_write(c.tlb_ppn[i] * 4096 + (a & 0xfff), 1, (v >>> (8 * k)) & 0xff);
  }
}

export function lin_read8(c: Core, lin: number): number {
  const lpn = lin >>> 12, i = lpn & TLB_MASK;
  if (c.fast_r[i] === lpn) {
    const f = c.tlb_frame[i];
    if (f !== null) return f[lin & 0xfff];
  }
  return slow_read(c, lin, 1, c.cpl === 3);
}

export function lin_read16(c: Core, lin: number): number {
  const lpn = lin >>> 12, i = lpn & TLB_MASK, o = lin & 0xfff;
  if (c.fast_r[i] === lpn && o !== 0xfff) {
    const f = c.tlb_frame[i];
    if (f !== null) return f[o] | (f[o + 1] << 8);
  }
  return slow_read(c, lin, 2, c.cpl === 3);
}

export function lin_read32(c: Core, lin: number): number {
  const lpn = lin >>> 12, i = lpn & TLB_MASK, o = lin & 0xfff;
  if (c.fast_r[i] === lpn && o <= 0xffc) {
    const f = c.tlb_frame[i];
    if (f !== null) return (f[o] | (f[o + 1] << 8) | (f[o + 2] << 16) | (f[o + 3] << 24)) >>> 0;
  }
  return slow_read(c, lin, 4, c.cpl === 3);
}

export function lin_write8(c: Core, lin: number, v: number): void {
  const lpn = lin >>> 12, i = lpn & TLB_MASK;
  if (c.fast_w[i] === lpn) {
    const f = c.tlb_frame[i];
    if (f !== null) { f[lin & 0xfff] = v; return; }
  }
  slow_write(c, lin, 1, v, c.cpl === 3);
}

export function lin_write16(c: Core, lin: number, v: number): void {
  const lpn = lin >>> 12, i = lpn & TLB_MASK, o = lin & 0xfff;
  if (c.fast_w[i] === lpn && o !== 0xfff) {
    const f = c.tlb_frame[i];
    if (f !== null) { f[o] = v; f[o + 1] = v >>> 8; return; }
  }
  slow_write(c, lin, 2, v, c.cpl === 3);
}

export function lin_write32(c: Core, lin: number, v: number): void {
  const lpn = lin >>> 12, i = lpn & TLB_MASK, o = lin & 0xfff;
  if (c.fast_w[i] === lpn && o <= 0xffc) {
    const f = c.tlb_frame[i];
    if (f !== null) { f[o] = v; f[o + 1] = v >>> 8; f[o + 2] = v >>> 16; f[o + 3] = v >>> 24; return; }
  }
  slow_write(c, lin, 4, v, c.cpl === 3);
}

// ---- supervisor (implicit) accesses: descriptor tables, TSS, IDT -----------------------

export function sys_read(c: Core, lin: number, size: 1 | 2 | 4): number {
  return slow_read(c, lin >>> 0, size, false);
}
export function sys_write(c: Core, lin: number, size: 1 | 2 | 4, v: number): void {
  slow_write(c, lin >>> 0, size, v, false);
}

/** Check that `len` bytes at `lin` are writable (string ops and pushes probe before committing). */
export function probe_write(c: Core, lin: number, len: number): void {
  translate(c, lin >>> 0, true, c.cpl === 3);
  const last = (lin + len - 1) >>> 0;
  if ((last >>> 12) !== (lin >>> 12)) translate(c, last, true, c.cpl === 3);
}
