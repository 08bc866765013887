// The shim's primitives, one by one, through the Linux API (compat/linux) on
// host-freebsd with the linuxkpi kld loaded — including their error paths and the
// places where the presets differ.

import { describe, expect, it } from "vitest";
import { Machine, MachineStopped } from "../../machine/engine.js";
import { CapturePipe } from "../../machine/host_pipe.js";
import { freebsd_boot, type freebsd_kernel } from "../../host-freebsd/kern/init_main.js";
import { linuxkpi_kld, linux_kld } from "../../compat/linuxkpi/linuxkpi_kld.js";
import type { LinuxkpiConfig } from "../../compat/linuxkpi/linux_config.js";
import { LINUX_KMOD_COMPAT_2007_CONFIG } from "../../compat/linuxkpi/linux_config.js";
import { curthread, PCPU_GET_cpuid } from "../../host-freebsd/sys/pcpu.js";
import { kthread_add } from "../../host-freebsd/kern/kern_thread.js";
import { pause, tsleep, wakeup } from "../../host-freebsd/kern/kern_synch.js";
import { pksignal } from "../../host-freebsd/kern/kern_sig.js";
import { SIGUSR1 } from "../../host-freebsd/sys/signal.js";
import { EBUSY } from "../../host-freebsd/sys/errno.js";
import { pmap_kextract } from "../../host-freebsd/amd64/pmap.js";
import { alloc_pages, alloc_page, __free_pages, __free_page, page_to_pfn, pfn_to_page, GFP_KERNEL, GFP_ATOMIC, __GFP_ZERO, __GFP_DMA } from "../../compat/linux/gfp.js";
import { page_address, virt_to_page, __pa, __va } from "../../compat/linux/mm.js";
import { kmalloc, kfree, kzalloc, ksize } from "../../compat/linux/slab.js";
import { kread, kwrite } from "../../compat/linux/kmem.js";
import { spinlock_t, spin_lock_init, spin_lock, spin_unlock } from "../../compat/linux/spinlock.js";
import { mutex, mutex_init, mutex_lock, mutex_unlock, mutex_lock_interruptible, mutex_destroy } from "../../compat/linux/mutex.js";
import { get_current, might_sleep, cond_resched, signal_pending } from "../../compat/linux/sched.js";
import { get_cpu, put_cpu, on_each_cpu, smp_call_function_single, num_online_cpus, smp_processor_id } from "../../compat/linux/smp.js";
import { preempt_disable, preempt_enable } from "../../compat/linux/preempt.js";
import { copy_to_user, copy_from_user } from "../../compat/linux/uaccess.js";
import { misc_register, misc_deregister, MISC_DYNAMIC_MINOR, type miscdevice } from "../../compat/linux/miscdevice.js";
import { MODULE, module_data } from "../../compat/linux/module.js";
import { pr_info } from "../../compat/linux/printk.js";
import { EBUSY as LEBUSY, EEXIST as LEEXIST, EINTR as LEINTR, ENXIO as LENXIO } from "../../compat/linux/errno.js";
import type { Kva, Pfn, Uva } from "../../compat/linux/types.js";
import { lkpitest_module, lkpitest_opens } from "./lkpitest_driver.js";
import { fork_exec } from "../../host-freebsd/kern/kern_exec.js";
import { kern_wait } from "../../host-freebsd/kern/kern_exit.js";
import { call, freebsd_os, ustr } from "./model_os.js";

/** Boot FreeBSD, kldload linuxkpi with `config`, run `body` in thread0. */
async function with_lkpi<T>(body: (kern: freebsd_kernel) => Promise<T>, opts: { config?: Partial<LinuxkpiConfig>; ncpus?: number; ram_mb?: number } = {}): Promise<{ result: T; kern: freebsd_kernel }> {
  const machine = new Machine({ ncpus: opts.ncpus ?? 2, ram_bytes: (opts.ram_mb ?? 16) << 20, seed: 5 });
  const kern = freebsd_boot(machine);
  let result: T | undefined;
  let done = false;
  kern.start(async () => {
    kern.install_kld(linuxkpi_kld(opts.config ?? {}));
    const e = await kern.kldload("linuxkpi");
    if (e !== 0) throw new Error(`kldload linuxkpi: ${e}`);
    result = await body(kern);
    done = true;
  });
  await machine.run();
  if (!done) throw new Error("body did not finish");
  return { result: result as T, kern };
}

const panics = async (p: Promise<unknown>, re: RegExp) => {
  const err = await p.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(MachineStopped);
  expect(((err as MachineStopped).reason as Error).message).toMatch(re);
};

describe("linuxkpi kld", () => {
  it("exports linux_kernel_api only while loaded", async () => {
    const { result } = await with_lkpi(async (kern) => {
      const during = kern.machine.kernel_symbols!("linux_kernel_api") !== undefined;
      const unload = await kern.kldunload("linuxkpi");
      return { during, unload, after: kern.machine.kernel_symbols!("linux_kernel_api") };
    });
    expect(result).toEqual({ during: true, unload: 0, after: undefined });
  });

  it("printk lands in the message buffer", async () => {
    const { kern } = await with_lkpi(async () => pr_info("hello from Linux code"));
    expect(kern.dmesg()).toContain("hello from Linux code\n");
  });
});

describe("page allocator (linux_page)", () => {
  it("alloc_pages: zeroed, mapped by page_address, contiguous for order > 0, freed back", async () => {
    const { result } = await with_lkpi(async (kern) => {
      const before = kern.free_page_count();
      const p = (await alloc_page(GFP_KERNEL | __GFP_ZERO))!;
      const zero = kread(page_address(p), 4096).every((b) => b === 0);
      kwrite(page_address(p), new Uint8Array([1, 2, 3]));
      const pa = __pa(page_address(p));
      const same = __va(pa) === page_address(p) && virt_to_page(page_address(p)) === p && pfn_to_page(page_to_pfn(p)) === p;
      const q = (await alloc_pages(GFP_KERNEL, 2))!;
      const contiguous = [1, 2, 3].every((i) => pfn_to_page((page_to_pfn(q) + i) as Pfn) !== null && __pa(page_address(q)) + i * 4096 === __pa((page_address(q) + i * 4096) as Kva));
      __free_page(p);
      __free_pages(q, 2);
      return { zero, same, contiguous, restored: kern.free_page_count() === before };
    });
    expect(result).toEqual({ zero: true, same: true, contiguous: true, restored: true });
  });

  it("GFP_ATOMIC returns null when memory runs out; GFP_KERNEL sleeps", async () => {
    const { result } = await with_lkpi(async (kern) => {
      const held = [];
      for (;;) {
        const p = await alloc_page(GFP_ATOMIC);
        if (p === null) break;
        held.push(p);
      }
      let got: unknown = null;
      const chan = {};
      kthread_add(kern.k, async () => {
        got = await alloc_page(GFP_KERNEL);
        wakeup(chan);
      }, "sleeper");
      await pause("w", 3);
      const slept = got === null;
      __free_page(held.pop()!);
      while (got === null) await tsleep(chan, 0, "j", 0);
      held.push(got);
      for (const p of held) __free_page(p as never);
      return { n: held.length, slept };
    }, { ram_mb: 2 });
    expect(result.n).toBeGreaterThan(100);
    expect(result.slept).toBe(true);
  });

  it("an unimplemented GFP flag fails loudly with its name", async () => {
    await panics(with_lkpi(async () => alloc_page(GFP_KERNEL | __GFP_DMA)), /unsupported GFP flags __GFP_DMA/);
  });

  it("GFP_KERNEL under a spinlock panics (WITNESS: sleeping with a mutex held)", async () => {
    await panics(with_lkpi(async () => {
      const l = new spinlock_t();
      spin_lock_init(l, "held");
      await spin_lock(l);
      await alloc_page(GFP_KERNEL);
    }), /with the following non-sleepable locks held:\nexclusive sleep mutex held/);
  });

  it("2007 preset: vm_phys_alloc_contig for every size, pfn_to_page only for the shim's pages", async () => {
    await with_lkpi(async (kern) => {
      const before = kern.free_page_count();
      const p = (await alloc_pages(GFP_KERNEL | __GFP_ZERO, 1))!;
      expect(pfn_to_page(page_to_pfn(p))).toBe(p);
      __free_pages(p, 1);
      expect(kern.free_page_count()).toBe(before);
    }, { config: LINUX_KMOD_COMPAT_2007_CONFIG });
    await panics(with_lkpi(async () => pfn_to_page(3 as Pfn), { config: LINUX_KMOD_COMPAT_2007_CONFIG }), /pfn_to_page: pfn 0x3 not in the page hash/);
  });
});

describe("kmalloc (linux_slab)", () => {
  it("kmalloc > PAGE_SIZE is virtually contiguous; __pa works page by page", async () => {
    const { result } = await with_lkpi(async (kern) => {
      const a = (await kzalloc(3 * 4096, GFP_KERNEL))!;
      const data = new Uint8Array(3 * 4096).map((_, i) => i % 251);
      kwrite(a, data);
      const back = kread(a, data.length);
      const pas = [0, 1, 2].map((i) => __pa((a + i * 4096) as Kva));
      const ok = pas.every((pa, i) => pa === pmap_kextract(kern.k, a + i * 4096));
      const r = { same: back.every((v, i) => v === data[i]), ok, size: ksize(a) };
      kfree(a);
      kfree(null);
      return r;
    });
    expect(result).toEqual({ same: true, ok: true, size: 3 * 4096 });
  });

  it("kfree inside preempt_disable is deferred to the linuxkpi task (LinuxKPI)", async () => {
    const { result } = await with_lkpi(async (kern) => {
      const before = kern.free_page_count();
      const a = (await kmalloc(100, GFP_KERNEL))!;
      preempt_disable();
      kfree(a);
      preempt_enable();
      await pause("let the task run", 2);
      return kern.free_page_count() === before;
    });
    expect(result).toBe(true);
  });

  it("kfree inside preempt_disable panics without the deferral (2007 preset)", async () => {
    await panics(with_lkpi(async () => {
      const a = await kmalloc(100, GFP_KERNEL);
      preempt_disable();
      kfree(a);
    }, { config: { kfree_in_critical: "free" } }), /free: called with spinlock or critical section held/);
  });
});

describe("locks (linux_lock)", () => {
  it("spin_lock is an MTX_DEF and pins the thread; might_sleep under it panics", async () => {
    const { result } = await with_lkpi(async () => {
      const l = new spinlock_t();
      spin_lock_init(l, "pinning");
      await spin_lock(l);
      const pinned = curthread().td_pinned;
      const crit = curthread().td_critnest;
      spin_unlock(l);
      return { pinned, crit, after: curthread().td_pinned };
    });
    expect(result).toEqual({ pinned: 1, crit: 0, after: 0 });
    await panics(with_lkpi(async () => {
      const l = new spinlock_t();
      spin_lock_init(l, "sl");
      await spin_lock(l);
      might_sleep("test.c:1");
    }), /might_sleep\(\) at test.c:1 with the following non-sleepable locks held/);
  });

  it("mtx_spin preset: a spinlock disables interrupts, and GFP_ATOMIC under it panics in malloc", async () => {
    await panics(with_lkpi(async () => {
      const l = new spinlock_t();
      spin_lock_init(l, "spinny");
      await spin_lock(l);
      await kmalloc(16, GFP_ATOMIC);
    }, { config: { spinlock: "mtx_spin" } }), /malloc: called with spinlock or critical section held/);
  });

  it("using an uninitialised lock panics", async () => {
    await panics(with_lkpi(async () => spin_lock(new spinlock_t())), /spinlock not initialized/);
  });

  it("mutex: held across sleeps, contended between threads, destroy", async () => {
    const { result } = await with_lkpi(async (kern) => {
      const m = new mutex();
      mutex_init(m, "lk");
      const order: string[] = [];
      let left = 2;
      const done = {};
      for (const name of ["a", "b"])
        kthread_add(kern.k, async () => {
          await mutex_lock(m);
          order.push(`${name}+`);
          await pause("hold", 2);
          order.push(`${name}-`);
          mutex_unlock(m);
          left--;
          wakeup(done);
        }, name);
      while (left > 0) await tsleep(done, 0, "j", 0);
      mutex_destroy(m);
      return order;
    });
    expect([result.join(""), ["a+a-b+b-", "b+b-a+a-"].includes(result.join(""))]).toEqual([result.join(""), true]);
  });

  it("mutex_lock_interruptible returns -EINTR when a signal arrives", async () => {
    const { result } = await with_lkpi(async (kern) => {
      const m = new mutex();
      mutex_init(m, "intr");
      await mutex_lock(m);
      let r = 1;
      const done = {};
      const td = kthread_add(kern.k, async () => {
        r = await mutex_lock_interruptible(m);
        wakeup(done);
      }, "waiter");
      await pause("w", 2);
      pksignal(kern.k, td.td_proc, SIGUSR1);
      while (r === 1) await tsleep(done, 0, "j", 0);
      kern.k.proc0.p_siglist.clear();
      mutex_unlock(m);
      return r;
    });
    expect(result).toBe(-LEINTR);
  });
});

describe("current, get_cpu and SMP (linux_current, linux_smp)", () => {
  it("current is created lazily per thread and stays the same", async () => {
    const { result } = await with_lkpi(async (kern) => {
      const a = get_current();
      let other: unknown = null;
      const done = {};
      kthread_add(kern.k, async () => {
        other = get_current();
        wakeup(done);
      }, "other");
      while (other === null) await tsleep(done, 0, "j", 0);
      return { same: a === get_current(), differs: a !== other, pid: a.pid === curthread().td_tid, comm: a.comm, mm: a.mm, pending: signal_pending(a) };
    });
    expect(result).toEqual({ same: true, differs: true, pid: true, comm: "thread0", mm: null, pending: false });
  });

  it("get_cpu (sched_pin preset): the thread may sleep and comes back on the same CPU", async () => {
    const { result } = await with_lkpi(async (kern) => {
      const seen: boolean[] = [];
      let left = 3;
      const done = {};
      for (let t = 0; t < 3; t++)
        kthread_add(kern.k, async () => {
          const cpu = get_cpu();
          might_sleep("inside get_cpu");
          for (let i = 0; i < 4; i++) {
            await pause("pinned", 1 + (i % 2));
            seen.push(smp_processor_id() === cpu);
          }
          put_cpu();
          left--;
          wakeup(done);
        }, `p${t}`);
      while (left > 0) await tsleep(done, 0, "j", 0);
      return seen;
    });
    expect(result.length).toBe(12);
    expect(result.every(Boolean)).toBe(true);
  });

  it("get_cpu (critical_enter preset): might_sleep inside panics, as on Linux", async () => {
    await panics(with_lkpi(async () => {
      get_cpu();
      might_sleep("vcpu_load");
    }, { config: { get_cpu: "critical_enter" } }), /might_sleep\(\) at vcpu_load: sleeping thread thread0 .* in a critical section/);
  });

  it("cond_resched inside preempt_disable panics", async () => {
    await panics(with_lkpi(async () => {
      preempt_disable();
      await cond_resched();
    }), /cond_resched\(\).*critical section/);
  });

  it("on_each_cpu runs everywhere; smp_call_function_single checks the CPU", async () => {
    const { result } = await with_lkpi(async () => {
      const ran: number[] = [];
      await on_each_cpu(() => ran.push(PCPU_GET_cpuid()), null, true);
      const one: number[] = [];
      const r1 = await smp_call_function_single(1, () => one.push(PCPU_GET_cpuid()), null, true);
      const r9 = await smp_call_function_single(9, () => one.push(-1), null, true);
      return { ran: ran.sort(), one, r1, r9, n: num_online_cpus() };
    }, { ncpus: 3 });
    expect(result).toEqual({ ran: [0, 1, 2], one: [1], r1: 0, r9: -LENXIO, n: 3 });
  });
});

describe("user copies (linux_uaccess)", () => {
  it("outside an ioctl, addresses are user addresses: bad ones are not copied", async () => {
    const { result } = await with_lkpi(async () => {
      const buf = new Uint8Array(8).fill(7);
      const out = await copy_to_user(0x10000 as Uva, buf, 8);
      const inn = await copy_from_user(buf, 0x5000 as Uva, 8);
      return { out, inn, zeroed: buf.every((b) => b === 0) };
    });
    expect(result).toEqual({ out: 8, inn: 8, zeroed: true });
  });
});

describe("misc devices and modules (linux_compat, linux_module)", () => {
  it("misc_register: dynamic minors, -EBUSY for a taken minor, -EEXIST for a taken name", async () => {
    const { result } = await with_lkpi(async () => {
      const fops = {};
      const a: miscdevice = { minor: MISC_DYNAMIC_MINOR, name: "one", fops };
      const b: miscdevice = { minor: MISC_DYNAMIC_MINOR, name: "two", fops };
      const c: miscdevice = { minor: 63, name: "three", fops };
      const d: miscdevice = { minor: 200, name: "one", fops };
      const r = [await misc_register(a), await misc_register(b), await misc_register(c), await misc_register(d)];
      const minors = [a.minor, b.minor];
      await misc_deregister(a);
      const again = await misc_register({ minor: 63, name: "again", fops });
      return { r, minors, again };
    });
    expect(result).toEqual({ r: [0, 0, -LEBUSY, -LEEXIST], minors: [63, 62], again: 0 });
  });

  it("module_data is per load: a reload starts fresh", async () => {
    const { result } = await with_lkpi(async (kern) => {
      const seen: number[] = [];
      const mod = MODULE({
        name: "counter", license: "GPL", description: "", depends: [],
        async init() {
          const d = module_data("counter", () => ({ n: 0 }));
          seen.push(++d.n);
          return 0;
        },
        async exit() {},
      });
      kern.install_kld(linux_kld(mod));
      await kern.kldload("counter");
      await kern.kldunload("counter");
      await kern.kldload("counter");
      return seen;
    });
    expect(result).toEqual([1, 1]);
  });

  it("a failing module_init fails the kldload with the translated errno", async () => {
    const { result } = await with_lkpi(async (kern) => {
      kern.install_kld(linux_kld(MODULE({ name: "bad", license: "GPL", description: "", depends: [], init: async () => -11, exit: null })));
      return kern.kldload("bad");
    });
    expect(result).toBe(35);
  });

  it("a module with open files refuses kldunload (EBUSY), and linuxkpi refuses while it is loaded", async () => {
    const { result } = await with_lkpi(async (kern) => {
      kern.install_kld(linux_kld(lkpitest_module));
      await kern.kldload("lkpitest");
      let close = false;
      const out = new CapturePipe();
      const f = fork_exec("holder", async () => {
        const m = (await call(freebsd_os, freebsd_os.nr.mmap, 0, 4096, 3, 0x1002, -1, 0)) as { val: number };
        const fd = (await call(freebsd_os, freebsd_os.nr.open, ustr(m.val, "/dev/lkpitest"), 2)) as { val: number };
        while (!close) await call(freebsd_os, freebsd_os.nr.getpid);
        await call(freebsd_os, freebsd_os.nr.close, fd.val);
        return 0;
      }, out, out);
      await pause("w", 3);
      const opens = lkpitest_opens();
      const busy = await kern.kldunload("lkpitest");
      const kpi_busy = await kern.kldunload("linuxkpi");
      close = true;
      await kern_wait(f.p!.p_pid);
      const ok = await kern.kldunload("lkpitest");
      return { opens, busy, kpi_busy, ok };
    });
    expect(result).toEqual({ opens: 1, busy: EBUSY, kpi_busy: EBUSY, ok: 0 });
  });
});

describe("struct mutex as sema(9) (2007 preset)", () => {
  it("mutex_lock_interruptible ignores signals and returns 0 once it gets the mutex", async () => {
    const { result } = await with_lkpi(async (kern) => {
      const m = new mutex();
      mutex_init(m, "sema-backed");
      await mutex_lock(m);
      let r = 1;
      const td = kthread_add(kern.k, async () => {
        r = await mutex_lock_interruptible(m);
      }, "waiter");
      await pause("w", 2);
      pksignal(kern.k, td.td_proc, SIGUSR1);
      await pause("w", 2);
      const still_waiting = r === 1;
      kern.k.proc0.p_siglist.clear();
      mutex_unlock(m);
      await pause("w", 2);
      return { still_waiting, r };
    }, { config: { mutex: "sema" } });
    expect(result).toEqual({ still_waiting: true, r: 0 });
  });

  it("another thread may unlock it (no owner), and it can be held across sleeps", async () => {
    const { result } = await with_lkpi(async (kern) => {
      const m = new mutex();
      mutex_init(m, "ownerless");
      await mutex_lock(m);
      await pause("held", 1);
      let done = false;
      kthread_add(kern.k, async () => {
        mutex_unlock(m);
        done = true;
      }, "other");
      await pause("w", 2);
      await mutex_lock(m);
      mutex_unlock(m);
      mutex_destroy(m);
      return done;
    }, { config: { mutex: "sema" } });
    expect(result).toBe(true);
  });
});
