import { describe, expect, it } from "vitest";
import { run_main } from "./helpers.js";
import { malloc, free, malloc_usable_size } from "../../host-freebsd/kern/kern_malloc.js";
import { MALLOC_DEFINE, M_NOWAIT, M_WAITOK, M_ZERO } from "../../host-freebsd/sys/malloc.js";
import { mtx, mtx_init, mtx_lock_spin, MTX_SPIN, MTX_DEF, mtx_lock } from "../../host-freebsd/kern/kern_mutex.js";
import { critical_enter } from "../../host-freebsd/kern/kern_switch.js";
import { kmem_access, pmap_kextract } from "../../host-freebsd/amd64/pmap.js";
import { IS_DMAP, IS_KERNEL_MAP } from "../../host-freebsd/amd64/vmparam.js";
import { kthread_add } from "../../host-freebsd/kern/kern_thread.js";
import { tsleep, wakeup, pause } from "../../host-freebsd/kern/kern_synch.js";
import { VM_ALLOC_WIRED, VM_ALLOC_ZERO, vm_page_alloc_noobj, vm_page_alloc_noobj_contig, vm_page_unwire_free } from "../../host-freebsd/vm/vm_page.js";
import { PAGE_SIZE } from "../../host-freebsd/sys/param.js";
import type { Kva } from "../../machine/addr.js";

const M_TEST = MALLOC_DEFINE("test", "malloc tests");

describe("malloc(9)", () => {
  it("small sizes come from the DMAP, large ones from the kernel map, not physically contiguous", async () => {
    const { result } = await run_main(async (b) => {
      const k = b.kern.k;
      const small = (await malloc(100, M_TEST, M_WAITOK))!;
      const big = (await malloc(5 * PAGE_SIZE + 10, M_TEST, M_WAITOK | M_ZERO))!;
      const pas: number[] = [];
      for (let i = 0; i < 6; i++) pas.push(pmap_kextract(k, big + i * PAGE_SIZE)!);
      const data = new Uint8Array(3 * PAGE_SIZE).map((_, i) => i & 0xff);
      kmem_access(k, big + 100, data, true);
      const back = new Uint8Array(data.length);
      kmem_access(k, big + 100, back, false);
      const r = { small_dmap: IS_DMAP(small), big_kmap: IS_KERNEL_MAP(big), usable: malloc_usable_size(small), pas, same: back.every((v, i) => v === data[i]) };
      free(small, M_TEST);
      free(big, M_TEST);
      return r;
    });
    expect(result.small_dmap).toBe(true);
    expect(result.big_kmap).toBe(true);
    expect(result.usable).toBe(128);
    expect(result.pas.every((p) => p !== null)).toBe(true);
    expect(result.same).toBe(true);
  });

  it("frees every page back: free count is restored", async () => {
    const { result } = await run_main(async (b) => {
      const before = b.kern.free_page_count();
      const ptrs: Kva[] = [];
      for (const size of [1, 16, 17, 500, 4096, 4097, 70000]) for (let i = 0; i < 5; i++) ptrs.push((await malloc(size, M_TEST, M_NOWAIT))!);
      const during = b.kern.free_page_count();
      for (const p of ptrs) free(p, M_TEST);
      return { before, during, after: b.kern.free_page_count() };
    });
    expect(result.during).toBeLessThan(result.before);
    expect(result.after).toBe(result.before);
  });

  it("M_ZERO zeroes recycled memory", async () => {
    const { result } = await run_main(async (b) => {
      const k = b.kern.k;
      const a = (await malloc(64, M_TEST, M_WAITOK))!;
      kmem_access(k, a, new Uint8Array(64).fill(0xaa), true);
      const keep = (await malloc(64, M_TEST, M_WAITOK))!;
      free(a, M_TEST);
      const z = (await malloc(64, M_TEST, M_WAITOK | M_ZERO))!;
      const buf = new Uint8Array(64);
      kmem_access(k, z, buf, false);
      free(z, M_TEST);
      free(keep, M_TEST);
      return { reused: z === a, zero: buf.every((v) => v === 0) };
    });
    expect(result).toEqual({ reused: true, zero: true });
  });

  it("M_NOWAIT returns null when memory is exhausted", async () => {
    const { result } = await run_main(async (b) => {
      const before = b.kern.free_page_count();
      const ptrs: Kva[] = [];
      for (;;) {
        const p = await malloc(8 * PAGE_SIZE, M_TEST, M_NOWAIT);
        if (p === null) break;
        ptrs.push(p);
      }
      // Page-sized allocations may still fit in the frames left over; drain them too.
      for (;;) {
        const p = await malloc(PAGE_SIZE, M_TEST, M_NOWAIT);
        if (p === null) break;
        ptrs.push(p);
      }
      const nulls = (await malloc(16, M_TEST, M_NOWAIT)) === null;
      for (const p of ptrs) free(p, M_TEST);
      return { n: ptrs.length, nulls, restored: b.kern.free_page_count() === before };
    }, { ram_mb: 2, ncpus: 1 });
    expect(result.n).toBeGreaterThan(10);
    expect(result.nulls).toBe(true);
    expect(result.restored).toBe(true);
  });

  it("M_WAITOK sleeps until memory is freed", async () => {
    const { result } = await run_main(async (b) => {
      const ptrs: Kva[] = [];
      for (;;) {
        const p = await malloc(PAGE_SIZE, M_TEST, M_NOWAIT);
        if (p === null) break;
        ptrs.push(p);
      }
      const chan = {};
      let got: Kva | null = null;
      kthread_add(b.kern.k, async () => {
        got = await malloc(PAGE_SIZE, M_TEST, M_WAITOK);
        wakeup(chan);
      }, "waiter");
      await pause("let it block", 3);
      const blocked = got === null;
      free(ptrs.pop()!, M_TEST);
      while (got === null) await tsleep(chan, 0, "join", 0);
      free(got, M_TEST);
      for (const p of ptrs) free(p, M_TEST);
      return blocked;
    }, { ram_mb: 2 });
    expect(result).toBe(true);
  });

  it("M_WAITOK with a spin mutex held panics", async () => {
    const p = run_main(async () => {
      const m = new mtx();
      mtx_init(m, "spinny", null, MTX_SPIN);
      await mtx_lock_spin(m);
      await malloc(32, M_TEST, M_WAITOK);
    });
    await expect(p).rejects.toThrow(/panic: malloc: called with spinlock or critical section held/);
  });

  it("M_WAITOK with a sleep mutex held panics (WITNESS), M_NOWAIT does not", async () => {
    await run_main(async () => {
      const m = new mtx();
      mtx_init(m, "def", null, MTX_DEF);
      await mtx_lock(m);
      const p = await malloc(32, M_TEST, M_NOWAIT);
      free(p, M_TEST);
      const { mtx_unlock } = await import("../../host-freebsd/kern/kern_mutex.js");
      mtx_unlock(m);
    });
    const p = run_main(async () => {
      const m = new mtx();
      mtx_init(m, "def", null, MTX_DEF);
      await mtx_lock(m);
      await malloc(32, M_TEST, M_WAITOK);
    });
    await expect(p).rejects.toThrow(/malloc\(M_WAITOK\) with the following non-sleepable locks held/);
  });

  it("needs exactly one of M_WAITOK and M_NOWAIT", async () => {
    await expect(run_main(async () => malloc(8, M_TEST, M_ZERO))).rejects.toThrow(/Bad malloc flags/);
    await expect(run_main(async () => malloc(8, M_TEST, M_WAITOK | M_NOWAIT))).rejects.toThrow(/Bad malloc flags/);
  });

  it("free in a critical section, of a foreign address, or twice panics", async () => {
    await expect(run_main(async () => {
      const p = await malloc(8, M_TEST, M_WAITOK);
      critical_enter();
      free(p, M_TEST);
    })).rejects.toThrow(/free: called with spinlock or critical section held/);
    await expect(run_main(async () => free(12345 as Kva, M_TEST))).rejects.toThrow(/not allocated by malloc/);
    await expect(run_main(async () => {
      const p = await malloc(8, M_TEST, M_WAITOK);
      free(p, M_TEST);
      free(p, M_TEST);
    })).rejects.toThrow(/double free/);
  });
});

describe("vm_page_alloc_noobj", () => {
  it("hands out wired, zeroed pages and contiguous runs", async () => {
    const { result } = await run_main(async (b) => {
      const k = b.kern.k;
      const before = b.kern.free_page_count();
      const m = (await vm_page_alloc_noobj(VM_ALLOC_WIRED | VM_ALLOC_ZERO))!;
      const run = (await vm_page_alloc_noobj_contig(VM_ALLOC_WIRED, 4, 0, 2 ** 32, 4 * PAGE_SIZE, 0))!;
      const r = { wired: m.wire_count, aligned: run.phys_addr % (4 * PAGE_SIZE) === 0 };
      vm_page_unwire_free(k, m);
      for (let i = 0; i < 4; i++) vm_page_unwire_free(k, k.vm_page_array[run.phys_addr / PAGE_SIZE + i]);
      return { ...r, restored: b.kern.free_page_count() === before };
    });
    expect(result).toEqual({ wired: 1, aligned: true, restored: true });
  });
});
