// The shadow-page cache (kvm/mmu.ts): shadow pages kept across guest CR3 loads, guest page
// tables write-protected, guest writes to them emulated, shadow pages written over and over
// without use given up (write flooding). The paged guests must give QEMU's output with the
// cache on and off (module parameter mmu_cache); with it on, CR3 switches find their shadow
// pages again, and guest writes to its page tables go through kvm_mmu_pte_write.

import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { kvm_globals } from "../../kvm/kvm_globals.js";
import type { kvm } from "../../kvm/kvm_host.js";
import { vmm_main } from "../../userspace/vmm/vmm.js";
import { MEM_MIB, recorded_guests } from "../guests/guest_list.js";
import { run_on } from "./harness.js";

type CacheStat = NonNullable<kvm["mmu_cache_stat"]>;

/** Run the VMM with the module parameter mmu_cache set; the VM's cache counters. */
async function run_with_cache(on: boolean, main: Parameters<typeof vmm_main>[1]) {
  let stat: CacheStat | undefined;
  let flushes = 0;
  let flooded = 0;
  const o = await run_on("linux", async (c) => {
    const g = kvm_globals();
    g.mmu_cache = on;
    const push = g.vm_list.push.bind(g.vm_list);
    const vms: kvm[] = [];
    g.vm_list.push = (...v: kvm[]) => { vms.push(...v); return push(...v); };
    try {
      return await vmm_main(c, main);
    } finally {
      g.vm_list.push = push;
      g.mmu_cache = true;
      stat = vms[0]?.mmu_cache_stat;
      flushes = vms[0]?.stat.tlb_flush ?? 0;
      flooded = vms[0]?.stat.mmu_flooded ?? 0;
    }
  }, { mmu: "shadow", ram_mib: 2 * MEM_MIB + 64 });
  return { o, stat: stat ?? { hit: 0, miss: 0, zapped: 0, pte_write: 0 }, flushes, flooded };
}

describe("shadow-page cache", () => {
  for (const name of ["paging", "pae", "cr3switch"]) {
    it(`${name}: QEMU's output with the cache on and off; reuse only with it on`, async () => {
      const g = recorded_guests().find((x) => x.name === name)!;
      const cfg = () => { const l = g.load(); return { mem_mib: MEM_MIB, images: l.images, entry: l.entry }; };
      const on = await run_with_cache(true, cfg());
      const off = await run_with_cache(false, cfg());
      for (const r of [on, off]) {
        expect(r.o.stdout).toBe(g.stdout);
        expect(r.o.exit_code).toBe(g.status);
        expect(r.o.leaked_pages).toBe(0);
      }
      expect(on.stat.hit).toBeGreaterThan(0);
      expect(off.stat.hit).toBe(0);
      // Without the cache nothing is write-protected, so nothing is written through kvm.
      expect(off.stat.pte_write).toBe(0);
      expect(off.flooded).toBe(0);
      if (name === "cr3switch") expect(on.stat.miss).toBeLessThan(off.stat.miss);
      // paging and pae rewrite their live page tables: each write is emulated and drops
      // the shadow entries derived from what it wrote.
      else expect(on.stat.pte_write).toBeGreaterThan(0);
      // pae frees a page table and fills it with data: its shadow page is given up.
      if (name === "pae") expect(on.flooded).toBeGreaterThan(0);
    }, 300_000);
  }

  it("bench/aspace: most shadow pages are reused across its 320 CR3 switches", async () => {
    const bytes = new Uint8Array(readFileSync(new URL("../../bench/aspace/aspace.bin", import.meta.url)));
    const cfg = () => ({ mem_mib: 8, images: [{ bytes, gpa: 0x1000 }], entry: 0x1000 });
    const on = await run_with_cache(true, cfg());
    const off = await run_with_cache(false, cfg());
    for (const r of [on, off]) {
      expect(r.o.stdout).toBe("aspace sum=00018600\n");
      expect(r.o.leaked_pages).toBe(0);
    }
    expect(on.stat.hit / (on.stat.hit + on.stat.miss)).toBeGreaterThan(0.9);
    expect(off.stat.hit).toBe(0);
    expect(on.flushes).toBe(off.flushes);
  }, 300_000);
});
