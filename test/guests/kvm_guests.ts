// Every recorded guest through kvm (the lkvm VMM on a host kernel), compared byte for
// byte with QEMU: stdout and exit status. Shared by the per-host test files so that
// vitest runs the hosts in parallel.

import { describe, expect, it } from "vitest";
import type { HostName } from "../../boot/world.js";
import { vmm_main } from "../../userspace/vmm/vmm.js";
import { run_on } from "../kvm/harness.js";
import { MEM_MIB, recorded_guests } from "./guest_list.js";

export function guests_through_kvm(host: HostName, mmus: ("shadow" | "ept")[]): void {
  for (const mmu of mmus)
    describe(`guests through kvm on ${host} with ${mmu === "ept" ? "nested paging (EPT)" : "shadow paging"} match QEMU`, () => {
      for (const g of recorded_guests())
        it(`${g.name} (${g.kind})`, async () => {
          const loaded = g.load();
          const o = await run_on(host, (c) => vmm_main(c, { mem_mib: MEM_MIB, images: loaded.images, entry: loaded.entry }), {
            mmu, ram_mib: 2 * MEM_MIB + 64,
          });
          expect(o.stdout).toBe(g.stdout);
          expect(o.exit_code).toBe(g.status);
          expect(o.stderr).toBe(g.name === "triple-fault" ? "lkvm: guest shutdown (triple fault)\n" : "");
          expect(o.leaked_pages).toBe(0);
        }, 300_000);
    });
}
