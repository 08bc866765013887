// Several processes use the Linux driver at once on a 2- or 3-CPU FreeBSD machine,
// across many seeds: no panic, the same results in every process, nothing leaked, and
// the same seed replays the same run.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Machine } from "../../machine/engine.js";
import { CapturePipe } from "../../machine/host_pipe.js";
import { freebsd_boot } from "../../host-freebsd/kern/init_main.js";
import { fork_exec } from "../../host-freebsd/kern/kern_exec.js";
import { kern_wait } from "../../host-freebsd/kern/kern_exit.js";
import { linuxkpi_kld, linux_kld } from "../../compat/linuxkpi/linuxkpi_kld.js";
import { lkpitest_module, LKPITEST_STRUCT, LKPITEST_NEWFD, LKPITEST_VALUE, LKPITEST_PAGE0 } from "./lkpitest_driver.js";
import { call, freebsd_os as o, uload, user_store, ustr, val } from "./model_os.js";

function worker(id: number, rounds: number, log: string[]) {
  return async () => {
    const scratch = val(await call(o, o.nr.mmap, 0, 8192, 3, o.MAP_ANON | o.MAP_PRIVATE, -1, 0));
    const fd = val(await call(o, o.nr.open, ustr(scratch, "/dev/lkpitest"), o.O_RDWR));
    let sum = 0;
    for (let i = 0; i < rounds; i++) {
      const arg = scratch + 256;
      const b = new Uint8Array(16);
      new DataView(b.buffer).setUint32(0, id * 100 + i, true);
      user_store(arg, b);
      sum += val(await call(o, o.nr.ioctl, fd, o.ioctl_cmd(LKPITEST_STRUCT), arg));
      sum += new DataView(uload(arg, 4).buffer).getUint32(0, true);
      const child = val(await call(o, o.nr.ioctl, fd, o.ioctl_cmd(LKPITEST_NEWFD), i));
      sum += val(await call(o, o.nr.ioctl, child, o.ioctl_cmd(LKPITEST_VALUE), 1));
      await call(o, o.nr.close, child);
    }
    const m = val(await call(o, o.nr.mmap, 0, 4096, 1, o.MAP_SHARED, fd, 0));
    const text = new TextDecoder().decode(uload(m, LKPITEST_PAGE0.length));
    log.push(`${id}:${sum}:${text === LKPITEST_PAGE0}`);
    return 0;
  };
}

async function run(seed: number, ncpus: number, nproc: number) {
  const machine = new Machine({ ncpus, ram_bytes: 16 << 20, seed });
  const kern = freebsd_boot(machine);
  const log: string[] = [];
  const r: { leak?: number; statuses?: unknown[]; unload?: number } = {};
  kern.start(async () => {
    kern.install_kld(linuxkpi_kld());
    kern.install_kld(linux_kld(lkpitest_module));
    await kern.kldload("lkpitest");
    const before = kern.free_page_count();
    const out = new CapturePipe();
    const ps = Array.from({ length: nproc }, (_, i) => fork_exec(`w${i}`, worker(i, 4, log), out, out).p!);
    r.statuses = [];
    for (const p of ps) r.statuses.push((await kern_wait(p.p_pid)).p!.p_xexit);
    r.leak = before - kern.free_page_count();
    r.unload = await kern.kldunload("lkpitest");
  });
  await machine.run();
  return { ...r, log, switches: machine.switches, dmesg: kern.dmesg() };
}

describe("concurrent users of a Linux driver on host-freebsd", () => {
  it("many seeds: no panic, no leak, every worker sees its own results", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: 3 }), async (seed, ncpus) => {
        const r = await run(seed, ncpus, 3);
        expect(r.statuses).toEqual([0, 0, 0]);
        expect(r.leak).toBe(0);
        expect(r.unload).toBe(0);
        const expected = (id: number) => {
          let s = 0;
          for (let i = 0; i < 4; i++) s += 42 + (id * 100 + i + 1) + (i * 1000 + 1);
          return `${id}:${s}:true`;
        };
        expect([...r.log].sort()).toEqual([0, 1, 2].map(expected));
      }),
      { numRuns: 12 },
    );
  });

  it("the same seed replays the same interleaving", async () => {
    const a = await run(99, 3, 3);
    const b = await run(99, 3, 3);
    expect(a.log).toEqual(b.log);
    expect(a.switches).toBe(b.switches);
    expect(a.dmesg).toBe(b.dmesg);
  });
});
