// Extended page tables (SDM Vol. 3C 28.2): in VMX non-root operation with "enable EPT",
// every guest-physical address the CPU uses (the guest's paging-structure entries read
// and updated by its own walk, and the final address of each access) is translated to a
// host-physical address through a second, 4-level hierarchy rooted at EPTP[51:12].
//
// Guest-physical address (this CPU's are 32 bits; [47:39] is therefore always 0):
//   [47:39] PML4 index  [38:30] PDPT index  [29:21] PD index  [20:12] PT index  [11:0] offset
// Entries are 8 bytes: read [0], write [1], execute [2] (an entry is present when any of
// the three is set); in a leaf, memory type [5:3] and ignore-PAT [6]; page size [7] in a
// PDE (2 MiB page; its [20:12] are reserved) and in a PDPTE (1 GiB, not supported here);
// accessed [8] and dirty [9] only with EPTP[6], which this CPU does not support, so they
// are ignored; the next table or the page frame [51:12].
//
// Access rights are the AND of R, W and X over every entry used. A not-present entry, or
// a leaf whose rights do not cover the access, is an EPT violation (exit reason 48); an
// entry whose settings are invalid is an EPT misconfiguration (49): write without read,
// execute-only (not supported), memory type 2, 3 or 7 in a leaf, a reserved bit set, or
// an address beyond MAXPHYADDR (32). Both are faults: the instruction has not committed
// anything, and after the VM exit EIP still names it.

import type { IdtVectoring, Stop } from "./cpu.js";
import type { Core } from "./core.js";
import {
  EPT_VIOLATION_GVA_IS_VALID, EPT_VIOLATION_GVA_TRANSLATED, VMX_EPT_LARGE_PAGE, VMX_EPT_MT_EPTE_SHIFT,
} from "./vmcs_fields.js";

/** Access kinds, which are also the entry bits that permit them. */
export const EPT_R = 1, EPT_W = 2, EPT_X = 4;

/** A VM exit raised in the middle of a guest-physical access. Thrown like an X86Fault
 *  (the instruction restarts), but never delivered to the guest: execute() returns it
 *  as a Stop. `vectoring` is set when it interrupted the delivery of an event. */
export class EptExit {
  vectoring: IdtVectoring | null = null;
  constructor(
    readonly misconfig: boolean,
    readonly gpa: number,
    readonly gla: number,
    readonly qualification: number,
  ) {}

  stop(): Stop {
    return this.misconfig
      ? { kind: "ept_misconfig", gpa: this.gpa, vectoring: this.vectoring }
      : { kind: "ept_violation", gpa: this.gpa, gla: this.gla, qualification: this.qualification, vectoring: this.vectoring };
  }
}

function host_read32(c: Core, hpa: number): number {
  const ppn = hpa >>> 12, off = hpa & 0xfff;
  if (ppn < c.ram_pages) {
    const f = c.ram.frame(ppn as never);
    return (f[off] | (f[off + 1] << 8) | (f[off + 2] << 16) | (f[off + 3] << 24)) >>> 0;
  }
  return c.bus.mmio_read(hpa, 4);
}

const MEMTYPE_INVALID = (1 << 2) | (1 << 3) | (1 << 7);

/** Translate guest-physical `gpa` for an access of kind `acc` (EPT_R, EPT_W or EPT_X).
 *  `gla` is the linear address being accessed and `final` says whether `gpa` is its
 *  translation (true) or a guest paging-structure entry read or updated on the way
 *  (false). Returns host page number * 8 + the R/W/X rights of the translation; throws
 *  EptExit for a violation or a misconfiguration. */
export function ept_translate(c: Core, root: number, gpa: number, acc: number, gla: number, final: boolean): number {
  gpa >>>= 0;
  let table = root;
  let rights = EPT_R | EPT_W | EPT_X;
  for (let level = 4; level >= 1; level--) {
    const idx = level === 4 ? 0 : level === 3 ? gpa >>> 30 : level === 2 ? (gpa >>> 21) & 0x1ff : (gpa >>> 12) & 0x1ff;
    const at = table + idx * 8;
    const lo = host_read32(c, at);
    const hi = host_read32(c, at + 4);
    const rwx = lo & 7;
    rights &= rwx;
    if (rwx === 0) throw violation(gpa, gla, acc, 0, final);
    const large = level === 2 && (lo & VMX_EPT_LARGE_PAGE) !== 0;
    const leaf = level === 1 || large;
    let bad = ((rwx & EPT_W) !== 0 && (rwx & EPT_R) === 0) || rwx === EPT_X || (hi & 0x000fffff) !== 0;
    if (level >= 3) bad ||= (lo & 0xf8) !== 0; // [7:3] reserved; PDPTE[7] would be a 1 GiB page
    else if (level === 2 && !large) bad ||= (lo & 0x78) !== 0;
    if (leaf) {
      bad ||= ((MEMTYPE_INVALID >>> ((lo >>> VMX_EPT_MT_EPTE_SHIFT) & 7)) & 1) !== 0;
      if (large) bad ||= (lo & 0x1ff000) !== 0;
    }
    if (bad) throw new EptExit(true, gpa, gla, 0);
    if (leaf) {
      if ((rights & acc) !== acc) throw violation(gpa, gla, acc, rights, final);
      const frame = lo >>> 12;
      const ppn = large ? frame + ((gpa >>> 12) & 0x1ff) : frame;
      return ppn * 8 + rights;
    }
    table = (lo & 0xfffff000) >>> 0;
  }
  throw new Error("unreachable: the level-1 entry is always a leaf");
}

function violation(gpa: number, gla: number, acc: number, rights: number, final: boolean): EptExit {
  return new EptExit(false, gpa, gla >>> 0, acc | (rights << 3) | EPT_VIOLATION_GVA_IS_VALID | (final ? EPT_VIOLATION_GVA_TRANSLATED : 0));
}
