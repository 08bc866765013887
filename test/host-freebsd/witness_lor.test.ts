// WITNESS lock-order reversals: the first nesting of two locks fixes their order; the
// reverse nesting later prints FreeBSD's "lock order reversal:" report once per pair and
// carries on. Orders are per kernel, by lock name, transitive, and kept apart for spin
// and sleep locks.

import { describe, expect, it } from "vitest";
import { run_main } from "./helpers.js";
import { mtx, mtx_init, mtx_lock, mtx_unlock, mtx_lock_spin, mtx_unlock_spin, MTX_DEF, MTX_SPIN } from "../../host-freebsd/kern/kern_mutex.js";
import { sx, sx_init_flags, sx_xlock, sx_xunlock } from "../../host-freebsd/kern/kern_sx.js";

function def(name: string): mtx {
  const m = new mtx(name);
  mtx_init(m, name, null, MTX_DEF);
  return m;
}

async function nest(a: mtx, b: mtx): Promise<void> {
  await mtx_lock(a);
  await mtx_lock(b);
  mtx_unlock(b);
  mtx_unlock(a);
}

const lors = (dmesg: string): string[] => dmesg.split("lock order reversal:\n").slice(1);

describe("WITNESS lock order reversals", () => {
  it("A then B, later B then A: one report in FreeBSD's format, and the kernel carries on", async () => {
    const { b, result } = await run_main(async () => {
      const a = def("lock_a");
      const bb = def("lock_b");
      await nest(a, bb);
      await nest(bb, a);
      await nest(bb, a);
      return "survived";
    });
    expect(result).toBe("survived");
    const r = lors(b.kern.dmesg());
    expect(r).toHaveLength(1);
    expect(r[0]).toMatch(/^ 1st 0x[0-9a-f]+ lock_b \(lock_b, sleep mutex\) @ test\/host-freebsd\/witness_lor\.test\.ts:\d+\n/);
    expect(r[0]).toMatch(/\n 2nd 0x[0-9a-f]+ lock_a \(lock_a, sleep mutex\) @ test\/host-freebsd\/witness_lor\.test\.ts:\d+\n/);
    expect(r[0]).toMatch(/lock order lock_a -> lock_b established at test\/host-freebsd\/witness_lor\.test\.ts:\d+/);
  });

  it("a consistent order never reports", async () => {
    const { b } = await run_main(async () => {
      const a = def("c_a");
      const bb = def("c_b");
      for (let i = 0; i < 3; i++) await nest(a, bb);
    });
    expect(lors(b.kern.dmesg())).toHaveLength(0);
  });

  it("transitive: A -> B -> C, then C then A is a reversal", async () => {
    const { b } = await run_main(async () => {
      const a = def("t_a");
      const bb = def("t_b");
      const c = def("t_c");
      await nest(a, bb);
      await nest(bb, c);
      await nest(c, a);
    });
    const r = lors(b.kern.dmesg());
    expect(r).toHaveLength(1);
    expect(r[0]).toMatch(/ 1st 0x[0-9a-f]+ t_c /);
    expect(r[0]).toMatch(/ 2nd 0x[0-9a-f]+ t_a /);
  });

  it("sx locks are ordered too", async () => {
    const { b } = await run_main(async () => {
      const x = new sx("sx_x");
      sx_init_flags(x, "sx_x", 0);
      const y = new sx("sx_y");
      sx_init_flags(y, "sx_y", 0);
      await sx_xlock(x);
      await sx_xlock(y);
      sx_xunlock(y);
      sx_xunlock(x);
      await sx_xlock(y);
      await sx_xlock(x);
      sx_xunlock(x);
      sx_xunlock(y);
    });
    const r = lors(b.kern.dmesg());
    expect(r).toHaveLength(1);
    expect(r[0]).toMatch(/ 1st 0x[0-9a-f]+ sx_y \(sx_y, sx\)/);
  });

  it("spin and sleep locks are not ordered against each other", async () => {
    const { b } = await run_main(async () => {
      const d = def("mix_def");
      const s = new mtx("mix_spin");
      mtx_init(s, "mix_spin", null, MTX_SPIN);
      await mtx_lock(d);
      await mtx_lock_spin(s);
      mtx_unlock_spin(s);
      mtx_unlock(d);
    });
    expect(lors(b.kern.dmesg())).toHaveLength(0);
  });
});
