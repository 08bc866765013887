// x86-64 4-level paging (PML4 -> PDPT -> PD -> PT), as the host kernels' process
// address spaces use it. Each table is one 4 KiB frame of 512 8-byte entries; a
// virtual address splits as
//   [47:39] PML4 index  [38:30] PDPT index  [29:21] PD index  [20:12] PT index  [11:0] offset.
// Entry bits: P 0, R/W 1, U/S 2, PWT 3, PCD 4, A 5, D 6, PS 7 (in PDPT/PD: a large page),
// G 8, frame address [51:12], NX 63. The walk sets A in every entry it uses and D in
// the final entry on a write, as the MMU does. Guest-mode paging (32-bit, PAE) is the
// interpreter's; this walker serves host software's user-mode accesses.

import type { PhysMem } from "../phys_mem.js";
import type { Hpa } from "../addr.js";

export const PTE_P = 1n << 0n;
export const PTE_RW = 1n << 1n;
export const PTE_US = 1n << 2n;
export const PTE_PWT = 1n << 3n;
export const PTE_PCD = 1n << 4n;
export const PTE_A = 1n << 5n;
export const PTE_D = 1n << 6n;
export const PTE_PS = 1n << 7n;
export const PTE_G = 1n << 8n;
export const PTE_NX = 1n << 63n;
export const PTE_FRAME = 0x000ffffffffff000n;

// #PF error code bits.
export const PF_P = 1 << 0; // 0: not present; 1: protection violation
export const PF_W = 1 << 1; // write access
export const PF_U = 1 << 2; // user-mode access
export const PF_I = 1 << 4; // instruction fetch

export type Walk = { ok: true; pa: Hpa } | { ok: false; error_code: number };

/** Translate `va` through the tables rooted at `cr3`, checking U/S and R/W (CR0.WP is set
 *  on the hosts modelled, so supervisor writes honour R/W too). */
export function walk64(ram: PhysMem, cr3: number, va: number, write: boolean, user: boolean): Walk {
  const err = (present: boolean) => ({ ok: false as const, error_code: (present ? PF_P : 0) | (write ? PF_W : 0) | (user ? PF_U : 0) });
  if (va < 0 || va >= 2 ** 47) return err(false);
  let table = cr3 - (cr3 % 4096);
  const idx = [
    Math.floor(va / 2 ** 39) % 512,
    Math.floor(va / 2 ** 30) % 512,
    Math.floor(va / 2 ** 21) % 512,
    Math.floor(va / 2 ** 12) % 512,
  ];
  for (let level = 0; level < 4; level++) {
    const at = (table + idx[level] * 8) as Hpa;
    const e = ram.read64(at);
    if ((e & PTE_P) === 0n) return err(false);
    if (user && (e & PTE_US) === 0n) return err(true);
    if (write && (e & PTE_RW) === 0n) return err(true);
    const last = level === 3 || (level > 0 && (e & PTE_PS) !== 0n);
    let ne = e | PTE_A;
    if (last && write) ne |= PTE_D;
    if (ne !== e) ram.write64(at, ne);
    if (last) {
      const page = level === 3 ? 4096 : level === 2 ? 2 ** 21 : 2 ** 30;
      const base = Number(e & PTE_FRAME);
      return { ok: true, pa: (base - (base % page) + (va % page)) as Hpa };
    }
    table = Number(e & PTE_FRAME);
  }
  return err(false);
}
