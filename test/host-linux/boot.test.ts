import { describe, expect, it } from "vitest";
import { boot, run_kernel } from "./helpers.js";

describe("host-linux boot", () => {
  it("boots, runs main in kernel_init and stops when everything is idle", async () => {
    const { result, k } = await run_kernel(async (k) => {
      return k.api.get_current().comm + "/" + k.api.get_current().pid;
    });
    expect(result).toBe("init/1");
    expect(k.dmesg()).toMatch(/^<5>\[ {4}0\.000000\] Linux version/);
    expect(k.dmesg()).toMatch(/Memory: \d+K\/16384K available/);
  });

  it("publishes the Linux API in the machine's symbol table", () => {
    const { machine, k } = boot();
    expect(machine.kernel_symbols!("linux_kernel_api")).toBe(k.api);
    expect(machine.kernel_symbols!("nonexistent")).toBeUndefined();
  });

  it("reserves the first MiB, the image and mem_map", () => {
    const { k } = boot({ ram_mb: 16 });
    // 4096 frames; 256 low + 256 image + 64 mem_map reserved.
    expect(k.free_page_count()).toBe(4096 - 256 - 256 - 64);
  });

  it("boots every CPU of an SMP machine into its idle task", async () => {
    const { result } = await run_kernel(async (k) => k.api.num_online_cpus(), { ncpus: 2 });
    expect(result).toBe(2);
  });
});
