// boot/panic_report.ts: layers from file paths, frames from V8 stacks, grouping.

import { describe, expect, it } from "vitest";
import { group_by_layer, layer_of, parse_frames } from "../../boot/panic_report.js";

describe("panic report", () => {
  it("the layer of a source file is its top directory in the repository", () => {
    expect(layer_of("/work/main/kvm/vmx.ts")).toBe("kvm");
    expect(layer_of("/x/dist/compat/linuxkpi/linux_compat.js")).toBe("compat");
    expect(layer_of("/x/host-freebsd/kern/sys_generic.ts")).toBe("host-freebsd");
    expect(layer_of("/x/machine/x86/vmx.ts")).toBe("machine");
    expect(layer_of("/x/userspace/libc/libc.ts")).toBe("userspace");
    expect(layer_of("node:internal/process/task_queues")).toBeNull();
    expect(layer_of("/x/node_modules/vitest/dist/index.js")).toBeNull();
  });

  it("frames are parsed innermost first and grouped by consecutive layer", () => {
    const stack = [
      "Error: boom",
      "    at vmcs_readl (/r/compat/linux/asm/vmx.ts:37:27)",
      "    at vmx_vcpu_run (/r/kvm/vmx.ts:505:5)",
      "    at async Object.kvm_vcpu_ioctl (file:///r/kvm/kvm_main.ts:383:12)",
      "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
      "    at kern_ioctl (/r/host-freebsd/kern/sys_generic.ts:102:12)",
    ].join("\n");
    const f = parse_frames(stack);
    expect(f.map((x) => x.where)).toEqual(["compat/linux/asm/vmx.ts:37", "kvm/vmx.ts:505", "kvm/kvm_main.ts:383", "host-freebsd/kern/sys_generic.ts:102"]);
    expect(group_by_layer(f).map((g) => [g.layer, g.frames.length])).toEqual([["compat", 1], ["kvm", 2], ["host-freebsd", 1]]);
  });
});
