// pmap: real x86-64 4-level tables that the machine's walker (walk64) translates
// through; table pages are allocated on demand and freed when they empty.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { boot } from "./helpers.js";
import { pmap, pmap_enter, pmap_extract, pmap_pinit, pmap_release, pmap_remove, KERN_SUCCESS } from "../../host-freebsd/amd64/pmap.js";
import { walk64, PTE_NX } from "../../machine/x86/paging64.js";
import { vm_page_alloc_noobj_domain, vm_page_unwire_free, VM_ALLOC_WIRED } from "../../host-freebsd/vm/vm_page.js";
import { PROT_READ, PROT_WRITE } from "../../host-freebsd/sys/mman.js";

describe("pmap", () => {
  it("maps and unmaps arbitrary user pages; the MMU walk agrees; every table page comes back", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 2 ** 35 - 1 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        (vpns, writable) => {
          const { kern } = boot({ ncpus: 1, ram_mb: 4 });
          const k = kern.k;
          const before = kern.free_page_count();
          const pm = new pmap(k);
          expect(pmap_pinit(pm)).toBe(true);
          const pages = vpns.map(() => vm_page_alloc_noobj_domain(k, 0, VM_ALLOC_WIRED)!);
          vpns.forEach((vpn, i) => expect(pmap_enter(pm, vpn * 4096, pages[i], PROT_READ | (writable[i] ? PROT_WRITE : 0))).toBe(KERN_SUCCESS));
          vpns.forEach((vpn, i) => {
            const va = vpn * 4096 + 123;
            expect(pmap_extract(pm, va)).toBe(pages[i].phys_addr + 123);
            const r = walk64(k.machine.ram, pm.pm_cr3, va, false, true);
            expect(r.ok && r.pa).toBe(pages[i].phys_addr + 123);
            const w = walk64(k.machine.ram, pm.pm_cr3, va, true, true);
            expect(w.ok).toBe(writable[i]);
          });
          expect(walk64(k.machine.ram, pm.pm_cr3, (vpns[0] ^ 1) * 4096, false, true).ok).toBe(vpns.includes(vpns[0] ^ 1));
          for (const vpn of vpns) pmap_remove(pm, vpn * 4096, vpn * 4096 + 4096);
          expect(pm.pm_stats).toEqual({ resident_count: 0, pt_pages: 0 });
          pmap_release(pm);
          for (const p of pages) vm_page_unwire_free(k, p);
          expect(kern.free_page_count()).toBe(before);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("user pages are no-execute unless PROT_EXEC", () => {
    const { kern } = boot({ ncpus: 1, ram_mb: 2 });
    const pm = new pmap(kern.k);
    pmap_pinit(pm);
    const m = vm_page_alloc_noobj_domain(kern.k, 0, VM_ALLOC_WIRED)!;
    pmap_enter(pm, 0x400000, m, PROT_READ);
    const pt = pmap_extract(pm, 0x400000);
    expect(pt).toBe(m.phys_addr);
    // Find the leaf entry through the tables and check NX.
    let table = pm.pm_cr3 as number;
    for (const shift of [39, 30, 21]) table = Number(kern.k.machine.ram.read64((table + (Math.floor(0x400000 / 2 ** shift) % 512) * 8) as never) & 0x000ffffffffff000n);
    const pte = kern.k.machine.ram.read64((table + (Math.floor(0x400000 / 4096) % 512) * 8) as never);
    expect(pte & PTE_NX).toBe(PTE_NX);
  });

  it("releasing a pmap that still maps pages panics", () => {
    const { kern } = boot({ ncpus: 1, ram_mb: 2 });
    const pm = new pmap(kern.k);
    pmap_pinit(pm);
    pmap_enter(pm, 0x1000, vm_page_alloc_noobj_domain(kern.k, 0, VM_ALLOC_WIRED)!, PROT_READ);
    expect(() => pmap_release(pm)).toThrow(/panic: pmap_release: pmap still has 1 mappings/);
  });
});
