// The 2007 port's stages as presets (compat/linuxkpi/linux_config.ts), each documented
// failure reproduced under the preset that has the bug, with its seed recorded, and shown
// gone under the preset that fixes it, across seeds (fast-check prints the seed of any
// counterexample).
//
//   (a) "on SMP it makes the system crash if qemu executed unpinned": get_cpu() without
//       sched_pin lets the vcpu thread be preempted at the return from the interrupt that
//       ended its time slice and resume on the other CPU, where its VMCS is not current.
//   (b) "a statically allocated struct task_struct ... only works when only a single
//       thread accesses linux-kmod-compat": two VMMs at once share `current`, so kvm's
//       current->mm checks and get_user_pages_fast see the first process's address space.
//   (c) "Comment out spinlock and mutex implementations": a mutex-protected
//       read-modify-write that sleeps in the middle loses updates.
//   (d) "Using sleep mutexes as a replacement for Linux semaphores is incorrect, since
//       sleeping inside them is not allowed": WITNESS panics.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Machine, MachineStopped } from "../../machine/engine.js";
import { CapturePipe } from "../../machine/host_pipe.js";
import { freebsd_boot } from "../../host-freebsd/kern/init_main.js";
import { fork_exec } from "../../host-freebsd/kern/kern_exec.js";
import { kern_wait } from "../../host-freebsd/kern/kern_exit.js";
import { linuxkpi_kld, linux_kld } from "../../compat/linuxkpi/linuxkpi_kld.js";
import {
  LINUXKPI_TODAY_CONFIG as TODAY,
  LINUX_KMOD_COMPAT_2007_CONFIG as FIXED,
  LINUX_KMOD_COMPAT_2007_SNAPSHOT_CONFIG as SNAPSHOT,
  type LinuxkpiConfig,
} from "../../compat/linuxkpi/linux_config.js";
import { busy, HELLO, run_many, spin_guest, vmm, type WorldOutcome } from "./port_stages_helpers.js";
import { racetest_module, RACETEST_ADD, RACETEST_ADD_SPIN, RACETEST_GET } from "./racetest_driver.js";
import { semtest_module, SEMTEST_POST, SEMTEST_WAIT } from "./semtest_driver.js";
import { call, freebsd_os as o, linux_os, ustr, val } from "./model_os.js";
import { linux_boot } from "../../host-linux/init/main.js";

const HELLO_TEXT = "Hello from a real-mode guest";
const seeds = fc.integer({ min: 1, max: 2 ** 31 - 1 });

function outputs(r: WorldOutcome): string[] {
  if (r.kind !== "ran") throw new Error(`the machine stopped: ${r.message}`);
  return r.procs.map((p) => p.stdout);
}

describe("presets", () => {
  it("each stage's choices, with the 2007 fixes on top of the snapshot", () => {
    expect(SNAPSHOT).toMatchObject({ get_cpu: "none", spinlock: "none", mutex: "none", current: "static", misc_open: "exclusive" });
    expect(FIXED).toMatchObject({ get_cpu: "sched_pin", spinlock: "mtx_def", mutex: "sema", current: "per_thread", misc_open: "exclusive" });
    expect(TODAY).toMatchObject({ get_cpu: "critical_enter", spinlock: "mtx_def", mutex: "sx" });
  });
});

// (a) A VMM with a guest that spins for several host ticks, beside two processes that
// only make system calls, on 2 CPUs. When the shorter one exits its CPU goes idle and
// steals the vcpu thread from the other CPU's run queue right after the vcpu was
// preempted with its VMCS loaded.
const smp_programs = (a: number) => [vmm(spin_guest(3_000_000)), busy(a), busy(60_000)];
/** Found by scanning seeds 1-2 and a in {5000, 12000, 20000, 30000}: these stop. */
const SMP_CRASHES = [
  { seed: 1, a: 20_000 },
  { seed: 1, a: 30_000 },
];

describe("(a) get_cpu without sched_pin: a VMCS used on the wrong CPU", () => {
  for (const { seed, a } of SMP_CRASHES) {
    it(`2007-snapshot, 2 CPUs, seed ${seed}: the machine stops with a VMX error`, async () => {
      const r = await run_many(SNAPSHOT, 2, seed, smp_programs(a));
      expect(r.kind).toBe("stopped");
      if (r.kind === "stopped") expect(r.message).toMatch(/VMfailInvalid|VMCS .* active on cpu|not current/);
    }, 60_000);
    it(`2007 (sched_pin), 2 CPUs, seed ${seed}: the guest finishes`, async () => {
      const r = await run_many(FIXED, 2, seed, smp_programs(a));
      expect(outputs(r)).toEqual(["ok\n", "", ""]);
    }, 60_000);
  }
  it("2007 and linuxkpi presets: any seed, the guest finishes", async () => {
    await fc.assert(
      fc.asyncProperty(seeds, fc.constantFrom(FIXED, TODAY), fc.constantFrom(12_000, 20_000, 30_000), async (seed, cfg, a) => {
        const r = await run_many(cfg, 2, seed, smp_programs(a));
        expect(outputs(r)).toEqual(["ok\n", "", ""]);
        if (r.kind === "ran") expect(r.leaked_pages).toBe(0);
      }),
      { numRuns: 4 },
    );
  }, 120_000);
});

// (b) Two VMMs at once, different guests. The snapshot's exclusive open of /dev/kvm
// would refuse the second VMM (EBUSY, checked below), so the static `current` is shown
// with misc_open "shared": the second VM runs the first process's guest memory, or the
// first VMM's KVM_RUN fails the current->mm check (EIO).
const two_vmms = () => [vmm(HELLO), vmm(spin_guest(1000))];
const STATIC_CURRENT_SEEDS = [1, 2];

describe("(b) a static `current`: two VMs corrupt each other", () => {
  it("2007-snapshot as it was: the second VMM cannot open /dev/kvm (EBUSY)", async () => {
    const r = await run_many(SNAPSHOT, 2, 1, two_vmms());
    expect(r.kind).toBe("ran");
    if (r.kind === "ran") expect(r.procs.map((p) => p.stderr).join("")).toMatch(/EBUSY/);
  });
  for (const seed of STATIC_CURRENT_SEEDS) {
    it(`static current, seed ${seed}: the guests' output is wrong or KVM_RUN fails`, async () => {
      const r = await run_many({ ...SNAPSHOT, misc_open: "shared" }, 2, seed, two_vmms());
      expect(r.kind).toBe("ran");
      if (r.kind !== "ran") return;
      const right = r.procs[0].stdout.startsWith(HELLO_TEXT) && r.procs[1].stdout === "ok\n" && r.procs.every((p) => p.exit_code === 0);
      expect(right).toBe(false);
    });
  }
  it("static current: every seed goes wrong", async () => {
    await fc.assert(
      fc.asyncProperty(seeds, async (seed) => {
        const r = await run_many({ ...SNAPSHOT, misc_open: "shared" }, 2, seed, two_vmms());
        const right = r.kind === "ran" && r.procs[0].stdout.startsWith(HELLO_TEXT) && r.procs[1].stdout === "ok\n";
        expect(right).toBe(false);
      }),
      { numRuns: 6 },
    );
  });
  it("per-thread current (2007 fix, and LinuxKPI): both guests right, any seed", async () => {
    await fc.assert(
      fc.asyncProperty(seeds, fc.constantFrom<Partial<LinuxkpiConfig>>({ ...FIXED, misc_open: "shared" }, { ...SNAPSHOT, misc_open: "shared", current: "per_thread" }, TODAY), async (seed, cfg) => {
        const r = await run_many(cfg, 2, seed, two_vmms());
        const out = outputs(r);
        expect(out[0].startsWith(HELLO_TEXT)).toBe(true);
        expect(out[1]).toBe("ok\n");
        if (r.kind === "ran") expect(r.leaked_pages).toBe(0);
      }),
      { numRuns: 8 },
    );
  });
});

// (c), (d): the racetest driver, with `nproc` processes each adding 1 `rounds` times.
async function race(config: Partial<LinuxkpiConfig>, seed: number, ncpus: number, nproc: number, rounds: number, add = RACETEST_ADD) {
  const machine = new Machine({ ncpus, ram_bytes: 16 << 20, seed });
  const kern = freebsd_boot(machine);
  const r: { counter?: number; statuses?: number[]; leak?: number; stopped?: string; dmesg?: string } = {};
  kern.start(async () => {
    kern.install_kld(linuxkpi_kld(config));
    kern.install_kld(linux_kld(racetest_module));
    if ((await kern.kldload("racetest")) !== 0) throw new Error("kldload racetest");
    const before = kern.free_page_count();
    const out = new CapturePipe();
    const worker = async () => {
      const scratch = val(await call(o, o.nr.mmap, 0, 4096, 3, o.MAP_ANON | o.MAP_PRIVATE, -1, 0));
      const fd = val(await call(o, o.nr.open, ustr(scratch, "/dev/racetest"), o.O_RDWR));
      for (let i = 0; i < rounds; i++) val(await call(o, o.nr.ioctl, fd, o.ioctl_cmd(add), 1));
      await call(o, o.nr.close, fd);
      return 0;
    };
    const ps = Array.from({ length: nproc }, (_, i) => fork_exec(`racer${i}`, worker, out, out).p!);
    r.statuses = [];
    for (const p of ps) r.statuses.push((await kern_wait(p.p_pid)).p!.p_xexit);
    const reader = fork_exec("reader", async () => {
      const scratch = val(await call(o, o.nr.mmap, 0, 4096, 3, o.MAP_ANON | o.MAP_PRIVATE, -1, 0));
      const fd = val(await call(o, o.nr.open, ustr(scratch, "/dev/racetest"), o.O_RDWR));
      r.counter = val(await call(o, o.nr.ioctl, fd, o.ioctl_cmd(RACETEST_GET), 0));
      await call(o, o.nr.close, fd);
      return 0;
    }, out, out).p!;
    await kern_wait(reader.p_pid);
    r.leak = before - kern.free_page_count();
    await kern.kldunload("racetest");
  });
  try {
    await machine.run();
  } catch (e) {
    if (e instanceof MachineStopped) return { ...r, stopped: e.message, dmesg: kern.dmesg() };
    throw e;
  }
  return { ...r, dmesg: kern.dmesg() };
}

/** Seeds on which the snapshot loses updates (2 CPUs, 2 processes x 20 adds). */
const LOST_UPDATE_SEEDS = [1, 7];

describe("(c) locks commented out: lost updates", () => {
  for (const seed of LOST_UPDATE_SEEDS) {
    it(`2007-snapshot, seed ${seed}: fewer than 40 increments survive`, async () => {
      const r = await race({ ...SNAPSHOT, misc_open: "shared" }, seed, 2, 2, 20);
      expect(r.stopped).toBeUndefined();
      expect(r.counter).toBeLessThan(40);
    });
  }
  it("sema(9) (2007) and sx (LinuxKPI) mutexes: no update lost, any seed", async () => {
    await fc.assert(
      fc.asyncProperty(seeds, fc.integer({ min: 2, max: 3 }), fc.constantFrom<Partial<LinuxkpiConfig>>({ ...FIXED, misc_open: "shared" }, TODAY), async (seed, ncpus, cfg) => {
        const r = await race(cfg, seed, ncpus, 3, 10);
        expect(r.stopped).toBeUndefined();
        expect(r.counter).toBe(30);
        expect(r.leak).toBe(0);
      }),
      { numRuns: 12 },
    );
  });
});

/** Seeds on which the snapshot loses updates under the commented-out spinlock. */
const LOST_SPIN_UPDATE_SEEDS = [1, 2];

describe("(c) spinlocks commented out: lost updates on SMP, with no sleep in the section", () => {
  for (const seed of LOST_SPIN_UPDATE_SEEDS) {
    it(`2007-snapshot, seed ${seed}: fewer than 40 increments survive`, async () => {
      const r = await race({ ...SNAPSHOT, misc_open: "shared" }, seed, 2, 2, 20, RACETEST_ADD_SPIN);
      expect(r.stopped).toBeUndefined();
      expect(r.statuses).toEqual([0, 0]);
      expect(r.counter).toBeGreaterThanOrEqual(20);
      expect(r.counter).toBeLessThan(40);
    });
  }
  it("one CPU: the snapshot loses nothing (no tick lands in a 5 us section on these seeds: UP works)", async () => {
    for (const seed of LOST_SPIN_UPDATE_SEEDS) {
      const r = await race({ ...SNAPSHOT, misc_open: "shared" }, seed, 1, 2, 20, RACETEST_ADD_SPIN);
      expect(r.counter).toBe(40);
    }
  });
  it("MTX_DEF (2007 fix, LinuxKPI) and MTX_SPIN spinlocks: no update lost, any seed, WITNESS silent", async () => {
    await fc.assert(
      fc.asyncProperty(
        seeds,
        fc.integer({ min: 2, max: 3 }),
        fc.constantFrom<Partial<LinuxkpiConfig>>({ ...FIXED, misc_open: "shared" }, TODAY, { ...TODAY, spinlock: "mtx_spin" }),
        async (seed, ncpus, cfg) => {
          const r = await race(cfg, seed, ncpus, 3, 10, RACETEST_ADD_SPIN);
          expect(r.stopped).toBeUndefined();
          expect(r.counter).toBe(30);
          expect(r.leak).toBe(0);
          expect(r.dmesg).not.toMatch(/^WITNESS:|lock order reversal|non-sleepable/m);
        },
      ),
      { numRuns: 12 },
    );
  });
});

describe("(d) sleep mutexes standing in for Linux mutexes/semaphores: WITNESS", () => {
  it("mutex as MTX_DEF held across kmalloc(GFP_KERNEL)/cond_resched: WITNESS panics, any seed", async () => {
    await fc.assert(
      fc.asyncProperty(seeds, async (seed) => {
        const r = await race({ ...FIXED, misc_open: "shared", mutex: "mtx_def" }, seed, 2, 1, 1);
        expect(r.stopped).toMatch(/non-sleepable locks held/);
        expect(r.stopped).toMatch(/racetest/);
      }),
      { numRuns: 5 },
    );
  });
  it("the same with sema(9) (the 2007 fix): silent, any seed", async () => {
    await fc.assert(
      fc.asyncProperty(seeds, async (seed) => {
        const r = await race({ ...FIXED, misc_open: "shared" }, seed, 2, 2, 3);
        expect(r.stopped).toBeUndefined();
        expect(r.counter).toBe(6);
        expect(r.dmesg).not.toMatch(/^WITNESS:|lock order reversal|non-sleepable/m);
      }),
      { numRuns: 5 },
    );
  });
});

// (d), second half: a semaphore starting at 0, down() in one process, up() in another.
async function signal_between(config: Partial<LinuxkpiConfig>, seed: number) {
  const machine = new Machine({ ncpus: 2, ram_bytes: 16 << 20, seed });
  const kern = freebsd_boot(machine);
  const r: { woken?: number; statuses?: number[] } = {};
  kern.start(async () => {
    kern.install_kld(linuxkpi_kld(config));
    kern.install_kld(linux_kld(semtest_module));
    if ((await kern.kldload("semtest")) !== 0) throw new Error("kldload semtest");
    const out = new CapturePipe();
    const proc = (cmd: typeof SEMTEST_WAIT, record: boolean) => async () => {
      const scratch = val(await call(o, o.nr.mmap, 0, 4096, 3, o.MAP_ANON | o.MAP_PRIVATE, -1, 0));
      const fd = val(await call(o, o.nr.open, ustr(scratch, "/dev/semtest"), o.O_RDWR));
      const v = val(await call(o, o.nr.ioctl, fd, o.ioctl_cmd(cmd), 0));
      if (record) r.woken = v;
      await call(o, o.nr.close, fd);
      return 0;
    };
    const waiter = fork_exec("waiter", proc(SEMTEST_WAIT, true), out, out).p!;
    const poster = fork_exec("poster", proc(SEMTEST_POST, false), out, out).p!;
    r.statuses = [(await kern_wait(waiter.p_pid)).p!.p_xexit, (await kern_wait(poster.p_pid)).p!.p_xexit];
    await kern.kldunload("semtest");
  });
  try {
    await machine.run();
  } catch (e) {
    if (e instanceof MachineStopped) return { ...r, stopped: e.message as string | undefined };
    throw e;
  }
  return { ...r, stopped: undefined as string | undefined };
}

describe("(d) a semaphore whose count starts at 0", () => {
  it("as a sleep mutex (before Jul 24 2007): down() does not wait and returns holding a lock, or up() unlocks a mutex it does not own; any seed", async () => {
    await fc.assert(
      fc.asyncProperty(seeds, async (seed) => {
        const r = await signal_between({ ...FIXED, misc_open: "shared", semaphore: "mtx_def" }, seed);
        expect(r.stopped).toMatch(/mtx_unlock: mutex semtest_ready not owned|Returning with 1 locks held \(semtest_ready\)/);
      }),
      { numRuns: 5 },
    );
  });
  it("as sema(9) (the 2007 fix, LinuxKPI): the waiter wakes once, any seed", async () => {
    await fc.assert(
      fc.asyncProperty(seeds, fc.constantFrom<Partial<LinuxkpiConfig>>({ ...FIXED, misc_open: "shared" }, TODAY), async (seed, cfg) => {
        const r = await signal_between(cfg, seed);
        expect(r.stopped).toBeUndefined();
        expect(r.statuses).toEqual([0, 0]);
        expect(r.woken).toBe(1);
      }),
      { numRuns: 8 },
    );
  });
});

describe("the reference: the same semaphore on host-linux", () => {
  it("down() in one process waits for up() in another, any seed", async () => {
    await fc.assert(
      fc.asyncProperty(seeds, async (seed) => {
        const machine = new Machine({ ncpus: 2, ram_bytes: 32 << 20, seed });
        const k = linux_boot(machine);
        const r: { woken?: number; load?: number; unload?: number; statuses?: unknown[] } = {};
        k.start(async () => {
          r.load = await k.load_kvm(semtest_module);
          const so = new CapturePipe();
          const proc = (cmd: typeof SEMTEST_WAIT, record: boolean) => async () => {
            const scratch = val(await call(linux_os, linux_os.nr.mmap, 0, 4096, 3, linux_os.MAP_ANON | linux_os.MAP_PRIVATE, -1, 0));
            const fd = val(await call(linux_os, linux_os.nr.open, ustr(scratch, "/dev/semtest"), linux_os.O_RDWR));
            const v = val(await call(linux_os, linux_os.nr.ioctl, fd, linux_os.ioctl_cmd(cmd), 0));
            if (record) r.woken = v;
            await call(linux_os, linux_os.nr.close, fd);
            return 0;
          };
          const w = await k.spawn_process("waiter", proc(SEMTEST_WAIT, true), so, so);
          const p = await k.spawn_process("poster", proc(SEMTEST_POST, false), so, so);
          r.statuses = [await k.wait_process(w), await k.wait_process(p)];
          r.unload = await k.unload_kvm("semtest");
        });
        await machine.run();
        expect(r).toMatchObject({ load: 0, unload: 0, woken: 1 });
        expect(r.statuses).toEqual([{ exit_code: 0, signal: null }, { exit_code: 0, signal: null }]);
      }),
      { numRuns: 5 },
    );
  });
});
