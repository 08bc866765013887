import { describe, expect, it } from "vitest";
import { run_main } from "./helpers.js";
import { MOD_LOAD, MOD_UNLOAD, MODULE_DEPEND, type modeventtype_t } from "../../host-freebsd/kern/kern_module.js";
import { linker_file_export_symbol, type kld_image } from "../../host-freebsd/kern/kern_linker.js";
import { EBUSY, EEXIST, ENOENT, ENXIO } from "../../host-freebsd/sys/errno.js";

function image(name: string, log: string[], opts: { deps?: string[]; fail_load?: number; refuse_unload?: () => boolean; version?: number; dep_min?: number; symbol?: string } = {}): kld_image {
  return {
    name,
    modules: [
      {
        version: opts.version ?? 1,
        data: {
          name,
          async evhand(mod, what: modeventtype_t) {
            if (what === MOD_LOAD) {
              log.push(`load ${name}`);
              if (opts.symbol) linker_file_export_symbol(mod.file, opts.symbol, { from: name });
              return opts.fail_load ?? 0;
            }
            if (what === MOD_UNLOAD) {
              if (opts.refuse_unload?.()) return EBUSY;
              log.push(`unload ${name}`);
            }
            return 0;
          },
        },
      },
    ],
    depends: (opts.deps ?? []).map((d) => MODULE_DEPEND(d, opts.dep_min ?? 1, 1, opts.dep_min ?? 1)),
  };
}

describe("kld loading", () => {
  it("loads dependencies first, refuses to unload a used file, unloads auto-loaded dependencies", async () => {
    const log: string[] = [];
    const { result } = await run_main(async (b) => {
      b.kern.install_kld(image("a", log, { symbol: "a_sym" }));
      b.kern.install_kld(image("b", log, { deps: ["a"] }));
      const sym_before = b.machine.kernel_symbols!("a_sym");
      const r1 = await b.kern.kldload("b.ko");
      const sym_during = b.machine.kernel_symbols!("a_sym");
      const r2 = await b.kern.kldunload("a");
      const r3 = await b.kern.kldload("b");
      const r4 = await b.kern.kldunload("b");
      const sym_after = b.machine.kernel_symbols!("a_sym");
      const r5 = await b.kern.kldunload("a");
      return { r: [r1, r2, r3, r4, r5], sym_before, sym_during, sym_after };
    });
    expect(result.r).toEqual([0, EBUSY, EEXIST, 0, ENOENT]);
    expect(log).toEqual(["load a", "load b", "unload b", "unload a"]);
    expect(result.sym_before).toBeUndefined();
    expect(result.sym_during).toEqual({ from: "a" });
    expect(result.sym_after).toBeUndefined();
  });

  it("an explicitly loaded dependency stays when its dependent goes", async () => {
    const log: string[] = [];
    await run_main(async (b) => {
      b.kern.install_kld(image("a", log));
      b.kern.install_kld(image("b", log, { deps: ["a"] }));
      expect(await b.kern.kldload("a")).toBe(0);
      expect(await b.kern.kldload("b")).toBe(0);
      expect(await b.kern.kldunload("b")).toBe(0);
      expect(await b.kern.kldunload("a")).toBe(0);
    });
    expect(log).toEqual(["load a", "load b", "unload b", "unload a"]);
  });

  it("a missing dependency or a version mismatch fails the load with ENOENT", async () => {
    const log: string[] = [];
    const { b } = await run_main(async (b) => {
      b.kern.install_kld(image("c", log, { deps: ["nothere"] }));
      b.kern.install_kld(image("v", log, { version: 1 }));
      b.kern.install_kld(image("w", log, { deps: ["v"], dep_min: 2 }));
      expect(await b.kern.kldload("c")).toBe(ENOENT);
      expect(await b.kern.kldload("w")).toBe(ENOENT);
      expect(await b.kern.kldload("nosuchfile")).toBe(ENOENT);
      // v was loaded for w and must be gone again.
      expect(await b.kern.kldunload("v")).toBe(ENOENT);
      return 0;
    });
    expect(log).toEqual(["load v", "unload v"]);
    expect(b.kern.dmesg()).toContain("depends on nothere - not available or version mismatch");
  });

  it("a failing MOD_LOAD fails the load and unloads what it pulled in", async () => {
    const log: string[] = [];
    await run_main(async (b) => {
      b.kern.install_kld(image("a", log, { symbol: "a_sym" }));
      b.kern.install_kld(image("d", log, { deps: ["a"], fail_load: ENXIO }));
      expect(await b.kern.kldload("d")).toBe(ENXIO);
      expect(b.machine.kernel_symbols!("a_sym")).toBeUndefined();
      expect(await b.kern.kldload("d")).toBe(ENXIO);
    });
    expect(log).toEqual(["load a", "load d", "unload a", "load a", "load d", "unload a"]);
  });

  it("a module that refuses MOD_UNLOAD stays loaded", async () => {
    const log: string[] = [];
    let busy = true;
    await run_main(async (b) => {
      b.kern.install_kld(image("e", log, { refuse_unload: () => busy }));
      expect(await b.kern.kldload("e")).toBe(0);
      expect(await b.kern.kldunload("e")).toBe(EBUSY);
      busy = false;
      expect(await b.kern.kldunload("e")).toBe(0);
    });
    expect(log).toEqual(["load e", "unload e"]);
    void MOD_UNLOAD;
  });

  it("a dependency that refuses MOD_UNLOAD when its dependent goes stays loaded", async () => {
    const log: string[] = [];
    let busy = true;
    await run_main(async (b) => {
      b.kern.install_kld(image("a", log, { refuse_unload: () => busy, symbol: "a_sym" }));
      b.kern.install_kld(image("b", log, { deps: ["a"] }));
      expect(await b.kern.kldload("b")).toBe(0);
      expect(await b.kern.kldunload("b")).toBe(0);
      expect(b.machine.kernel_symbols!("a_sym")).toEqual({ from: "a" });
      busy = false;
      expect(await b.kern.kldunload("a")).toBe(0);
      expect(b.machine.kernel_symbols!("a_sym")).toBeUndefined();
    });
    expect(log).toEqual(["load a", "load b", "unload b", "unload a"]);
  });
});
