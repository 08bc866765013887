// The reference clients and the built-in guest, end to end, on every host: the same
// bytes on stdout, the same status, and every page back at the end.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { lwn_main } from "../../userspace/examples/lwn.js";
import { vmm_main } from "../../userspace/vmm/vmm.js";
import { HOSTS, run_on } from "./harness.js";

const hello = new Uint8Array(readFileSync(new URL("../../guests/hello-real/hello.bin", import.meta.url)));

describe.each(HOSTS)("on %s", (host) => {
  it('the LWN "Using the KVM API" client prints 4 and KVM_EXIT_HLT', async () => {
    const o = await run_on(host, lwn_main);
    expect(o).toEqual({ stdout: "4\nKVM_EXIT_HLT\n", stderr: "", exit_code: 0, signal: null, leaked_pages: 0 });
  });

  it("the VMM runs the built-in real-mode guest", async () => {
    const o = await run_on(host, (c) => vmm_main(c, { mem_mib: 16, images: [{ bytes: hello, gpa: 0x1000 }], entry: 0x1000 }));
    expect(o).toEqual({
      stdout: "Hello from a real-mode guest, run by lkvm.\nsum=0ed5\n", stderr: "", exit_code: 0, signal: null, leaked_pages: 0,
    });
  });

  it("isa-debug-exit ends the VMM with status (value << 1) | 1", async () => {
    // mov $0x21, %al; out %al, $0xf4
    const img = Uint8Array.from([0xb0, 0x21, 0xe6, 0xf4, 0xf4]);
    const o = await run_on(host, (c) => vmm_main(c, { mem_mib: 1, images: [{ bytes: img, gpa: 0x7c00 }], entry: 0x7c00 }));
    expect(o.exit_code).toBe((0x21 << 1) | 1);
    expect(o.leaked_pages).toBe(0);
  });
});
