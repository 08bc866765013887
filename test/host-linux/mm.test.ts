import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Kva } from "../../machine/addr.js";
import { GFP_KERNEL, GFP_ATOMIC, __GFP_ZERO, __GFP_NOWARN } from "../../host-linux/include/linux/gfp_types.js";
import { PG_reserved, type page } from "../../host-linux/include/linux/mm_types.js";
import { PAGE_OFFSET } from "../../host-linux/arch/x86/include/asm/page.js";
import { MAX_PAGE_ORDER, alloc_pages_nowait, __free_pages, nr_free_pages } from "../../host-linux/mm/page_alloc.js";
import { kfree, kmalloc_nowait, ksize, ZERO_SIZE_PTR } from "../../host-linux/mm/slab.js";
import { MachineStopped } from "../../machine/engine.js";
import { boot, run_kernel } from "./helpers.js";

describe("buddy allocator", () => {
  it("alloc/free sequences never hand out a frame twice, and freeing everything coalesces back", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(
          fc.record({ op: fc.constant("alloc" as const), order: fc.integer({ min: 0, max: 6 }) }),
          fc.record({ op: fc.constant("free" as const), idx: fc.nat() }),
        ), { maxLength: 120 }),
        (ops) => {
          const { k } = boot({ ram_mb: 8 });
          const initial = nr_free_pages(k.zone);
          const largest_before = k.zone.free_area.map((a) => a.nr_free);
          const live: { p: page; order: number }[] = [];
          const owner = new Map<number, number>();
          for (const o of ops) {
            if (o.op === "alloc") {
              const p = alloc_pages_nowait(k, GFP_ATOMIC | __GFP_NOWARN, o.order);
              if (p === null) continue;
              expect(p.pfn % (1 << o.order)).toBe(0);
              for (let i = 0; i < 1 << o.order; i++) {
                expect(owner.has(p.pfn + i)).toBe(false);
                expect(k.zone.mem_map[p.pfn + i].flags & PG_reserved).toBe(0); // never a reserved frame
                owner.set(p.pfn + i, live.length);
              }
              live.push({ p, order: o.order });
            } else if (live.length > 0) {
              const [{ p, order }] = live.splice(o.idx % live.length, 1);
              for (let i = 0; i < 1 << order; i++) owner.delete(p.pfn + i);
              __free_pages(k, p, order);
            }
            const used = live.reduce((a, l) => a + (1 << l.order), 0);
            expect(nr_free_pages(k.zone)).toBe(initial - used);
          }
          for (const { p, order } of live) __free_pages(k, p, order);
          expect(nr_free_pages(k.zone)).toBe(initial);
          expect(k.zone.free_area.map((a) => a.nr_free)).toEqual(largest_before);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("exhaustion returns null with a page allocation failure warning; __GFP_NOWARN is silent", async () => {
    const { result, k } = await run_kernel(async (k) => {
      const got: page[] = [];
      for (;;) {
        const p = await k.api.alloc_pages(GFP_KERNEL, 0);
        if (p === null) break;
        got.push(p as page);
      }
      const free_at_end = k.free_page_count();
      const quiet = await k.api.alloc_pages(GFP_KERNEL | __GFP_NOWARN, 0);
      for (const p of got) k.api.__free_pages(p, 0);
      return { n: got.length, free_at_end, quiet };
    }, { ram_mb: 4 });
    expect(result.free_at_end).toBe(0);
    expect(result.quiet).toBeNull();
    expect(result.n).toBeGreaterThan(300);
    expect(k.dmesg().match(/page allocation failure: order:0/g)?.length).toBe(1);
  });

  it("__GFP_ZERO zeroes, page_address/__pa/__va/virt_to_page agree through the direct map", async () => {
    const { result } = await run_kernel(async (k) => {
      const p = (await k.api.alloc_pages(GFP_KERNEL, 1))!;
      const va = k.api.page_address(p);
      k.api.kmem_store(va, new Uint8Array(8192).fill(0xaa));
      k.api.__free_pages(p, 1);
      const q = (await k.api.alloc_pages(GFP_KERNEL | __GFP_ZERO, 1))!;
      const buf = new Uint8Array(8192);
      k.api.kmem_load(k.api.page_address(q), buf);
      const pfn = k.api.page_to_pfn(q);
      const ok = k.api.__pa(k.api.page_address(q)) === pfn * 4096
        && k.api.__va(k.api.__pa(k.api.page_address(q))) === k.api.page_address(q)
        && k.api.virt_to_page((k.api.page_address(q) + 4100) as Kva) === k.api.pfn_to_page((pfn + 1) as never)
        && k.api.pfn_to_page(pfn) === q;
      k.api.__free_pages(q, 1);
      return { zero: buf.every((b) => b === 0), ok, same: q === p, va };
    });
    expect(result.zero).toBe(true);
    expect(result.ok).toBe(true);
    expect(result.va).toBeGreaterThanOrEqual(PAGE_OFFSET);
  });

  it("double free and order mismatch are Bad page state BUGs; too-large orders fail", async () => {
    for (const [body, re] of [
      [(k: ReturnType<typeof boot>["k"]) => { const p = alloc_pages_nowait(k, GFP_KERNEL, 0)!; __free_pages(k, p, 0); __free_pages(k, p, 0); }, /Bad page state/],
      [(k: ReturnType<typeof boot>["k"]) => { const p = alloc_pages_nowait(k, GFP_KERNEL, 2)!; __free_pages(k, p, 1); }, /freed with order 1, allocated with order 2/],
    ] as const) {
      const b = boot();
      b.k.start(async () => body(b.k));
      const err = await b.machine.run().then(() => null, (e) => e);
      expect(err).toBeInstanceOf(MachineStopped);
      expect(String((err as MachineStopped).reason)).toMatch(re);
    }
    const { k } = boot();
    expect(alloc_pages_nowait(k, GFP_KERNEL | __GFP_NOWARN, MAX_PAGE_ORDER + 1)).toBeNull();
  });

  it("a high-order non-compound block whose head is still referenced frees its tail on __free_pages", async () => {
    const { result } = await run_kernel(async (k) => {
      const before = k.free_page_count();
      const p = (await k.api.alloc_pages(GFP_KERNEL, 2))!;
      (p as page)._refcount++; // get_page by another holder
      k.api.__free_pages(p, 2);
      const mid = before - k.free_page_count();
      k.api.put_page(p);
      return { mid, end: before - k.free_page_count() };
    });
    expect(result).toEqual({ mid: 1, end: 0 });
  });
});

describe("slab / kmalloc", () => {
  it("kmalloc rounds to the kmalloc-N classes; ksize tells; large sizes come from pages", () => {
    const { k } = boot();
    const cases: [number, number][] = [[1, 8], [8, 8], [9, 16], [65, 96], [100, 128], [193, 256], [1000, 1024], [4097, 8192], [8192, 8192], [8193, 12288 + 4096], [100000, 131072]];
    const ptrs: Kva[] = [];
    for (const [n, want] of cases) {
      const p = kmalloc_nowait(k, n, GFP_KERNEL)!;
      expect(p).not.toBeNull();
      expect(ksize(k, p)).toBe(want);
      ptrs.push(p);
    }
    expect(kmalloc_nowait(k, 0, GFP_KERNEL)).toBe(ZERO_SIZE_PTR);
    for (const p of ptrs) kfree(k, p);
    kfree(k, null);
    kfree(k, ZERO_SIZE_PTR);
  });

  it("objects are distinct and really consume pages; freeing everything returns them all", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20000 }), { maxLength: 200 }), fc.array(fc.nat(), { maxLength: 200 }), (sizes, order) => {
        const { k } = boot({ ram_mb: 8 });
        const before = nr_free_pages(k.zone);
        const live: { p: Kva; n: number }[] = [];
        for (const n of sizes) {
          const p = kmalloc_nowait(k, n, GFP_KERNEL | __GFP_NOWARN);
          if (p === null) continue;
          for (const o of live) expect(p + n <= o.p || o.p + o.n <= p).toBe(true);
          expect(ksize(k, p)).toBeGreaterThanOrEqual(n);
          live.push({ p, n });
        }
        if (live.length > 0) expect(nr_free_pages(k.zone)).toBeLessThan(before);
        for (const i of order) if (live.length) kfree(k, live.splice(i % live.length, 1)[0].p);
        for (const o of live) kfree(k, o.p);
        expect(nr_free_pages(k.zone)).toBe(before);
      }),
      { numRuns: 40 },
    );
  });

  it("kzalloc zeroes; a double kfree and a kfree of a non-object are BUGs", async () => {
    const { result } = await run_kernel(async (k) => {
      const p = (await k.api.kmalloc(64, GFP_KERNEL))!;
      k.api.kmem_store(p, new Uint8Array(64).fill(7));
      k.api.kfree(p);
      const q = (await k.api.kmalloc(64, GFP_KERNEL | __GFP_ZERO))!;
      const b = new Uint8Array(64);
      k.api.kmem_load(q, b);
      k.api.kfree(q);
      return b.every((x) => x === 0);
    });
    expect(result).toBe(true);
    for (const [body, re] of [
      [async (k: ReturnType<typeof boot>["k"]) => { const p = (await k.api.kmalloc(64, GFP_KERNEL))!; const q = (await k.api.kmalloc(64, GFP_KERNEL))!; k.api.kfree(p); k.api.kfree(p); k.api.kfree(q); }, /Object already free/],
      [async (k: ReturnType<typeof boot>["k"]) => { const p = (await k.api.kmalloc(64, GFP_KERNEL))!; k.api.kfree((p + 8) as Kva); }, /Invalid object pointer/],
      [async (k: ReturnType<typeof boot>["k"]) => { k.api.kmem_load(0 as Kva, new Uint8Array(4)); }, /BUG: kernel NULL pointer dereference/],
      [async (k: ReturnType<typeof boot>["k"]) => { k.api.kmem_store((PAGE_OFFSET + 2 ** 40) as Kva, new Uint8Array(4)); }, /BUG: unable to handle page fault for address/],
    ] as const) {
      const b = boot();
      b.k.start(() => body(b.k));
      const err = await b.machine.run().then(() => null, (e) => e);
      expect(err).toBeInstanceOf(MachineStopped);
      expect(String((err as MachineStopped).reason)).toMatch(re);
    }
  });
});
