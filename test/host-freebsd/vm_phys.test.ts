// vm_phys: the buddy allocator's invariants, checked with fast-check against a model
// of which frames are free.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { boot } from "./helpers.js";
import { vm_phys_alloc_contig, vm_phys_alloc_pages, vm_phys_free_pages, VM_NFREEORDER, VM_FREEPOOL_DEFAULT } from "../../host-freebsd/vm/vm_phys.js";
import { PAGE_SIZE } from "../../host-freebsd/sys/param.js";
import type { kernel } from "../../host-freebsd/sys/kernel.js";

type Op =
  | { kind: "contig"; npages: number; low: number; high: number; align: number; boundary: number }
  | { kind: "pages"; order: number }
  | { kind: "free"; which: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("contig" as const),
    npages: fc.integer({ min: 1, max: 40 }),
    low: fc.integer({ min: 0, max: 256 }).map((p) => p * PAGE_SIZE),
    high: fc.integer({ min: 1, max: 512 }).map((p) => p * PAGE_SIZE),
    align: fc.integer({ min: 12, max: 18 }).map((s) => 2 ** s),
    boundary: fc.oneof(fc.constant(0), fc.integer({ min: 12, max: 20 }).map((s) => 2 ** s)),
  }),
  fc.record({ kind: fc.constant("pages" as const), order: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ kind: fc.constant("free" as const), which: fc.nat() }),
);

function free_blocks(k: kernel): number {
  return k.vm_phys.vm_phys_free_queues.reduce((a, q) => a + q.size, 0);
}

/** Brute force: is there any start satisfying the constraints among free frames? */
function exists_run(free: boolean[], npages: number, low: number, high: number, align: number, boundary: number): boolean {
  for (let pa = Math.ceil(low / align) * align; pa + npages * PAGE_SIZE <= high; pa += align) {
    const start = pa / PAGE_SIZE;
    if (start + npages > free.length) break;
    if (boundary !== 0 && Math.floor(pa / boundary) !== Math.floor((pa + npages * PAGE_SIZE - 1) / boundary)) continue;
    let ok = true;
    for (let i = 0; i < npages && ok; i++) ok = free[start + i];
    if (ok) return true;
  }
  return false;
}

describe("vm_phys buddy allocator", () => {
  it("alloc/free sequences respect constraints, never hand out a frame twice, and coalesce back", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const { kern } = boot({ ncpus: 1, ram_mb: 2 });
        const k = kern.k;
        const npages = k.vm_phys.npages;
        const initial_free = k.vm_phys.free_count;
        const initial_blocks = free_blocks(k);
        // Model: which frames are free (frame 0 and the kernel pmap's PML4 are taken).
        const free = Array.from({ length: npages }, (_, i) => k.vm_page_array[i].pool === VM_FREEPOOL_DEFAULT);
        const live: { pfn: number; n: number; order: number | null }[] = [];
        for (const op of ops) {
          if (op.kind === "free") {
            if (live.length === 0) continue;
            const a = live.splice(op.which % live.length, 1)[0];
            if (a.order !== null) vm_phys_free_pages(k, k.vm_page_array[a.pfn], a.order);
            else for (let i = 0; i < a.n; i++) vm_phys_free_pages(k, k.vm_page_array[a.pfn + i], 0);
            for (let i = 0; i < a.n; i++) free[a.pfn + i] = true;
            continue;
          }
          let m;
          let n: number;
          if (op.kind === "pages") {
            n = 1 << op.order;
            m = vm_phys_alloc_pages(k, op.order);
            if (m !== null) expect((m.phys_addr / PAGE_SIZE) % n).toBe(0);
            else expect(free.some((f, i) => f && i % n === 0 && free.slice(i, i + n).every(Boolean) && i + n <= npages)).toBe(false);
          } else {
            n = op.npages;
            m = vm_phys_alloc_contig(k, n, op.low, op.high, op.align, op.boundary);
            if (m === null) {
              if (op.boundary === 0 || op.boundary >= n * PAGE_SIZE)
                expect(exists_run(free, n, op.low, op.high, op.align, op.boundary)).toBe(false);
            } else {
              const pa = m.phys_addr;
              expect(pa % op.align).toBe(0);
              expect(pa).toBeGreaterThanOrEqual(op.low);
              expect(pa + n * PAGE_SIZE).toBeLessThanOrEqual(op.high);
              if (op.boundary !== 0) expect(Math.floor(pa / op.boundary)).toBe(Math.floor((pa + n * PAGE_SIZE - 1) / op.boundary));
            }
          }
          if (m === null) continue;
          const pfn = m.phys_addr / PAGE_SIZE;
          for (let i = 0; i < n; i++) {
            expect(free[pfn + i]).toBe(true);
            free[pfn + i] = false;
          }
          live.push({ pfn, n, order: op.kind === "pages" ? op.order : null });
          expect(k.vm_phys.free_count).toBe(free.filter(Boolean).length);
        }
        for (const a of live)
          if (a.order !== null) vm_phys_free_pages(k, k.vm_page_array[a.pfn], a.order);
          else for (let i = 0; i < a.n; i++) vm_phys_free_pages(k, k.vm_page_array[a.pfn + i], 0);
        expect(k.vm_phys.free_count).toBe(initial_free);
        expect(free_blocks(k)).toBe(initial_blocks);
      }),
      { numRuns: 150 },
    );
  });

  it("a free block's buddy is never free at the same order (fully coalesced)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 40 }), (orders, frees) => {
        const { kern } = boot({ ncpus: 1, ram_mb: 1 });
        const k = kern.k;
        const live: [number, number][] = [];
        for (const o of orders) {
          const m = vm_phys_alloc_pages(k, o);
          if (m) live.push([m.phys_addr / PAGE_SIZE, o]);
        }
        for (const f of frees) {
          if (live.length === 0) break;
          const [pfn, o] = live.splice(f % live.length, 1)[0];
          vm_phys_free_pages(k, k.vm_page_array[pfn], o);
        }
        k.vm_phys.vm_phys_free_queues.forEach((q, o) => {
          if (o === VM_NFREEORDER - 1) return;
          for (const pfn of q) expect(q.has(pfn ^ (1 << o))).toBe(false);
        });
      }),
      { numRuns: 100 },
    );
  });

  it("double free panics", () => {
    const { kern } = boot({ ncpus: 1, ram_mb: 1 });
    const m = vm_phys_alloc_pages(kern.k, 0)!;
    vm_phys_free_pages(kern.k, m, 0);
    expect(() => vm_phys_free_pages(kern.k, m, 0)).toThrow(/panic: vm_phys_free_pages: .* already free/);
  });

  it("rejects a non-power-of-two alignment", () => {
    const { kern } = boot({ ncpus: 1, ram_mb: 1 });
    expect(() => vm_phys_alloc_contig(kern.k, 1, 0, 2 ** 20, 3 * PAGE_SIZE, 0)).toThrow(/alignment/);
  });
});
