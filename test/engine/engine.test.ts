import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Context, Machine, MachineStopped, current_cpu } from "../../machine/engine.js";

/** N contexts on a machine, each yielding `steps` times with a cost drawn from its id,
 *  recording (cpu, context) at every step. */
async function trace(seed: number, ncpus: number, nctx: number, steps: number): Promise<string[]> {
  const m = new Machine({ ncpus, ram_bytes: 1 << 20, seed });
  const log: string[] = [];
  let live = nctx;
  const idle = (cpu: number) =>
    new Context(`idle${cpu}`, async () => {
      for (;;) await m.cpu_halt();
    });
  // One context per CPU to start with; the rest queue on CPU 0 and are switched to in turn.
  const queue: Context[] = [];
  for (let i = 0; i < nctx; i++) {
    const ctx: Context = new Context(`t${i}`, async () => {
      for (let s = 0; s < steps; s++) {
        log.push(`cpu${current_cpu().id}:t${i}:${s}`);
        await m.cpu_yield(100 + i * 37);
      }
      live--;
      const next = queue.shift();
      m.cpu_throw(next ?? idle(current_cpu().id));
    });
    if (i < ncpus) m.boot_cpu(m.cpus[i], ctx);
    else queue.push(ctx);
  }
  for (let c = nctx; c < ncpus; c++) m.boot_cpu(m.cpus[c], idle(c));
  await m.run();
  expect(live).toBe(0);
  return log;
}

describe("engine", () => {
  it("the same seed gives the same interleaving, byte for byte (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), async (seed, ncpus, nctx) => {
        expect(await trace(seed, ncpus, nctx, 5)).toEqual(await trace(seed, ncpus, nctx, 5));
      }),
      { numRuns: 40 },
    );
  });

  it("advances the CPU with the lowest time-stamp counter first", async () => {
    const log = await trace(7, 2, 2, 4);
    // t0 costs 100 per step, t1 137: t0 runs more often early on.
    expect(log.slice(0, 4).filter((l) => l.includes("t0")).length).toBeGreaterThanOrEqual(2);
  });

  it("cpu_switch hands the CPU to another context and back", async () => {
    const m = new Machine({ ncpus: 1, ram_bytes: 1 << 20, seed: 1 });
    const order: string[] = [];
    let a!: Context;
    const b = new Context("b", async () => {
      order.push("b1");
      await m.cpu_switch(a);
      order.push("b2");
      m.cpu_throw(new Context("end", async () => void (await m.cpu_halt())));
    });
    a = new Context("a", async () => {
      order.push("a1");
      await m.cpu_switch(b);
      order.push("a2");
      await m.cpu_switch(b);
      order.push("never");
    });
    m.boot_cpu(m.cpus[0], a);
    await m.run();
    expect(order).toEqual(["a1", "b1", "a2", "b2"]);
  });

  it("a due timer interrupts a halted CPU, in interrupt context, before its context resumes", async () => {
    const m = new Machine({ ncpus: 1, ram_bytes: 1 << 20, seed: 1 });
    const cpu = m.cpus[0];
    const seen: string[] = [];
    cpu.intr_handler = (v) => {
      seen.push(`irq ${v.toString(16)} at ${cpu.tsc} in_interrupt=${cpu.in_interrupt}`);
    };
    m.boot_cpu(cpu, new Context("idle", async () => {
      cpu.timer_deadline = 5000;
      await m.cpu_halt();
      seen.push("woken");
      m.cpu_throw(new Context("done", async () => void (await m.cpu_halt())));
    }));
    await m.run();
    expect(seen).toEqual(["irq ef at 5000 in_interrupt=true", "woken"]);
  });

  it("a context that throws stops the machine with MachineStopped naming the CPU and context", async () => {
    const m = new Machine({ ncpus: 2, ram_bytes: 1 << 20, seed: 1 });
    m.boot_cpu(m.cpus[1], new Context("victim", async () => {
      await m.cpu_yield();
      throw new Error("panic: test");
    }));
    await expect(m.run()).rejects.toSatisfy((e: unknown) => e instanceof MachineStopped && e.cpu.id === 1 && e.context.name === "victim" && /panic: test/.test(e.message));
  });

  it("two machines run concurrently in one process and each sees only its own CPUs", async () => {
    const run = async (seed: number) => {
      const m = new Machine({ ncpus: 2, ram_bytes: 1 << 20, seed });
      const seen = new Set<Machine>();
      for (const c of m.cpus)
        m.boot_cpu(c, new Context(`w${c.id}`, async () => {
          for (let i = 0; i < 50; i++) {
            seen.add(current_cpu().machine);
            await Promise.resolve();
            seen.add(current_cpu().machine);
            await m.cpu_yield();
          }
          m.cpu_throw(new Context("halt", async () => void (await m.cpu_halt())));
        }));
      await m.run();
      return { m, seen };
    };
    const [x, y] = await Promise.all([run(1), run(2)]);
    expect([...x.seen]).toEqual([x.m]);
    expect([...y.seen]).toEqual([y.m]);
  });

  it("lazily backs RAM: a 4 GiB machine touches no frame until used", () => {
    const m = new Machine({ ncpus: 1, ram_bytes: 2 ** 32, seed: 1 });
    expect(m.ram.backed_frames).toBe(0);
    m.ram.write32(0xfffff000 as never, 0xdeadbeef);
    expect(m.ram.read32(0xfffff000 as never)).toBe(0xdeadbeef);
    expect(m.ram.backed_frames).toBe(1);
    expect(() => m.ram.frame(2 ** 20 as never)).toThrow(/beyond RAM/);
  });
});
