// Several VMs at once (run_world_many): 2-4 VMMs, each its own process with its own VM,
// on a 4-CPU FreeBSD host through the shim with today's LinuxKPI preset, give the same
// guest output as the same VMMs on a 1-CPU host; WITNESS stays silent; and unloading
// the module stack afterwards leaves every frame free.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { LINUXKPI_TODAY_CONFIG as TODAY } from "../../compat/linuxkpi/linux_config.js";
import { HELLO, run_many, spin_guest, vmm } from "./port_stages_helpers.js";
import { lwn_main } from "../../userspace/examples/lwn.js";
import type { Libc } from "../../userspace/libc/libc.js";

/** The VMM with three guests, and the LWN "Using the KVM API" client. */
const PROGRAMS: (() => (c: Libc) => Promise<number>)[] = [() => vmm(HELLO), () => vmm(spin_guest(1000)), () => vmm(spin_guest(300_000)), () => lwn_main];

describe("several VMs at once on a 4-CPU FreeBSD host (linuxkpi preset)", () => {
  it("fast-check: 2-4 VMs give the 1-CPU output, WITNESS is silent, no frame leaks", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.array(fc.integer({ min: 0, max: PROGRAMS.length - 1 }), { minLength: 2, maxLength: 4 }), async (seed, which) => {
        const programs = () => which.map((i) => PROGRAMS[i]());
        const one = await run_many(TODAY, 1, seed, programs());
        const four = await run_many(TODAY, 4, seed, programs());
        if (one.kind !== "ran") throw new Error(`1 CPU: ${one.message}`);
        if (four.kind !== "ran") throw new Error(`4 CPUs, seed ${seed}: ${four.message}`);
        expect(four.procs.map((p) => p.stdout)).toEqual(one.procs.map((p) => p.stdout));
        expect(four.procs.every((p) => p.exit_code === 0 && p.stdout.length > 0)).toBe(true);
        expect(four.dmesg).not.toMatch(/^WITNESS:|lock order reversal|non-sleepable|^witness_/m);
        expect(four.leaked_pages).toBe(0);
        expect(one.leaked_pages).toBe(0);
      }),
      { numRuns: 8 },
    );
  }, 300_000);
});
