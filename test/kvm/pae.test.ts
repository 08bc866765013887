// PAE guest paging in kvm (kvm/paging_tmpl.ts, kvm/mmu.ts), on both hosts and with both
// MMUs: KVM_TRANSLATE of PAE addresses (4 KiB and 2 MiB pages, a not-present PTE and
// PDPTE), page faults reflected with CR2 and the PAE walk's error code, accessed and dirty
// bits in a 2 MiB PDE, the PDPTRs loaded with CR3 rather than re-read (shadow paging), and
// write-flooding detection (kvm_stat mmu_flooded) in the shadow-page cache.
//
// The guests are a few instructions in protected mode with PAE paging on from the start
// (KVM_SET_SREGS), over page tables the test writes into guest memory:
//   0x1000 GDT (0x08 flat code, 0x10 flat data)   0x2000 IDT (#PF -> 0x3100)
//   0x3000 code   0x3100 #PF handler: EAX = CR2, EBX = error code, HLT
//   0x4000 PDPT: [0] -> PD 0x5000, [1] absent, [2] -> PD 0x8000, [3] absent
//   0x5000 PD: [0] -> PT 0x6000 (identity 0 - 2 MiB), [1] 2 MiB page -> gpa 0x400000
//   0x8000 PD: [0] -> PT 0x9000, [1] -> PT 0xd000 (the page table the flooding guests write)
//   0x9000 PT: 0x80000000 -> gpa 0xa000 (read-only), 0x80001000 -> 0xb000, 0x80002000 absent
//   0xd000 PT: 0x80200000 -> gpa 0xe000

import { describe, expect, it } from "vitest";
import * as k from "../../include/uapi/linux/kvm.js";
import { uva, type Uva } from "../../machine/addr.js";
import type { Libc } from "../../userspace/libc/libc.js";
import { Kvm, type VcpuFd, type VmFd } from "../../userspace/lib/kvm.js";
import { kvm_stat_read, kvm_stat_vm_dir } from "../../userspace/lib/kvm_stat.js";
import { HOSTS, anon, run_on } from "./harness.js";

const MMUS = ["shadow", "ept"] as const;
const MEM = 0x800000;
const P = 1, W = 2, PS = 0x80;
const CR0_PE = 1, CR0_ET = 0x10, CR0_WP = 1 << 16, CR0_PG = 1 << 31;
const CR4_PAE = 1 << 5;

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const hlt = [0xf4];
/** The #PF handler: mov %cr2, %eax; pop %ebx (the error code); hlt. */
const PF_HANDLER = [0x0f, 0x20, 0xd0, 0x5b, 0xf4];

interface Guest {
  c: Libc;
  vm: VmFd;
  vcpu: VcpuFd;
  mem: Uva;
  sregs: k.kvm_sregs;
  poke32(gpa: number, v: number): void;
  peek32(gpa: number): number;
}

/** A VM with 8 MiB of user memory holding the tables above, `code` at 0x3000, and a vcpu
 *  in 32-bit protected mode with PAE paging (CR0.WP as given). */
async function pae_vm(c: Libc, code: number[], wp = true): Promise<Guest> {
  const kvm = await Kvm.open(c);
  const vm = await kvm.create_vm();
  const mem = await anon(c, MEM);
  const poke32 = (gpa: number, v: number) => c.poke(uva(mem + gpa), Uint8Array.from(le32(v >>> 0)));
  const peek32 = (gpa: number) => c.peek32(uva(mem + gpa));
  // GDT: null, flat code, flat data.
  c.poke(uva(mem + 0x1008), Uint8Array.from([0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0]));
  // IDT[14]: 32-bit interrupt gate to 0x08:0x3100.
  c.poke(uva(mem + 0x2000 + 14 * 8), Uint8Array.from([0x00, 0x31, 0x08, 0x00, 0x00, 0x8e, 0x00, 0x00]));
  c.poke(uva(mem + 0x3000), Uint8Array.from(code));
  c.poke(uva(mem + 0x3100), Uint8Array.from(PF_HANDLER));
  poke32(0x4000, 0x5000 | P);
  poke32(0x4010, 0x8000 | P);
  poke32(0x5000, 0x6000 | P | W);
  poke32(0x5008, 0x400000 | PS | P | W);
  for (let i = 0; i < 512; i++) poke32(0x6000 + i * 8, (i << 12) | P | W);
  poke32(0x8000, 0x9000 | P | W);
  poke32(0x8008, 0xd000 | P | W);
  poke32(0x9000, 0xa000 | P);
  poke32(0x9008, 0xb000 | P | W);
  poke32(0xd000, 0xe000 | P | W);
  await vm.set_user_memory_region({ slot: 0, flags: 0, guest_phys_addr: 0n, memory_size: BigInt(MEM), userspace_addr: BigInt(mem) });
  const vcpu = await vm.create_vcpu(0);
  const sregs = await vcpu.get_sregs();
  const seg = (selector: number, type: number): k.kvm_segment => ({
    base: 0n, limit: 0xffffffff, selector, type, present: 1, dpl: 0, db: 1, s: 1, l: 0, g: 1, avl: 0, unusable: 0, padding: 0,
  });
  sregs.cs = seg(0x08, 11);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg(0x10, 3);
  sregs.gdt = { base: 0x1000n, limit: 23, padding: new Uint8Array(6) };
  sregs.idt = { base: 0x2000n, limit: 0x7ff, padding: new Uint8Array(6) };
  sregs.cr0 = BigInt((CR0_PE | CR0_ET | CR0_PG | (wp ? CR0_WP : 0)) >>> 0);
  sregs.cr4 = BigInt(CR4_PAE);
  sregs.cr3 = 0x4000n;
  await vcpu.set_sregs(sregs);
  const regs = await vcpu.get_regs();
  regs.rip = 0x3000n;
  regs.rsp = 0x7ff0n;
  regs.rflags = 2n;
  await vcpu.set_regs(regs);
  return { c, vm, vcpu, mem, sregs, poke32, peek32 };
}

/** KVM_RUN until an exit other than an OUT to port 0x80 (each OUT calls `marker`). */
async function run_to(g: Guest, want: number, marker: () => Promise<void> = async () => {}): Promise<void> {
  for (;;) {
    await g.vcpu.kvm_run();
    const r = g.vcpu.exit_reason();
    if (r === k.KVM_EXIT_IO && g.vcpu.io().port === 0x80) {
      await marker();
      continue;
    }
    if (r !== want) throw new Error(`exit reason ${r}, wanted ${want}`);
    return;
  }
}

async function translate(g: Guest, linear: number): Promise<number | null> {
  const p = (await g.c.malloc(k.kvm_translation_layout.span))!;
  g.c.store(k.kvm_translation_layout, p, { linear_address: BigInt(linear), physical_address: 0n, valid: 0, writeable: 0, usermode: 0, pad: new Uint8Array(5) });
  if ((await g.c.ioctl(g.vcpu.fd, k.KVM_TRANSLATE, p)) !== 0) throw new Error(`KVM_TRANSLATE: ${g.c.errname()}`);
  const t = g.c.load(k.kvm_translation_layout, p);
  return t.valid === 1 ? Number(t.physical_address) : null;
}

/** Run `body` on a host with the given MMU; what it logged. Clean exit, no page leaked. */
async function logged(host: (typeof HOSTS)[number], mmu: (typeof MMUS)[number], body: (c: Libc, log: (x: unknown) => void) => Promise<void>): Promise<unknown[]> {
  const log: unknown[] = [];
  const o = await run_on(host, async (c) => {
    await body(c, (x) => log.push(x));
    return 0;
  }, { mmu });
  expect(o.stderr).toBe("");
  expect(o.exit_code).toBe(0);
  expect(o.leaked_pages).toBe(0);
  return log;
}

const hex = (v: number | null) => (v === null ? null : `0x${v.toString(16)}`);

describe.each(HOSTS)("PAE guest paging on %s", (host) => {
  describe.each(MMUS)("with %s paging", (mmu) => {
    it("a KVM_MEM_READONLY slot mapped by a writable PTE: reads see its bytes, a write exits as MMIO and lands nowhere", async () => {
      const log = await logged(host, mmu, async (c, log) => {
        // mov 0x80002010, %eax; out %al, $0xe9; movl $0x12345678, 0x80002010;
        // mov 0x80002010, %eax; out %al, $0xe9; hlt
        const code = [0xa1, ...le32(0x80002010), 0xe6, 0xe9, 0xc7, 0x05, ...le32(0x80002010), ...le32(0x12345678), 0xa1, ...le32(0x80002010), 0xe6, 0xe9, 0xf4];
        const g = await pae_vm(c, code);
        const rom = await anon(c, 0x1000);
        c.poke(uva(rom + 0x10), Uint8Array.from([0xa5, 0x5a, 0xc3, 0x3c]));
        await g.vm.set_user_memory_region({ slot: 1, flags: k.KVM_MEM_READONLY, guest_phys_addr: BigInt(MEM), memory_size: 0x1000n, userspace_addr: BigInt(rom) });
        g.poke32(0x9010, MEM | P | W); // 0x80002000 -> the read-only page, writable for the guest
        for (let i = 0; i < 10; i++) {
          await g.vcpu.kvm_run();
          const r = g.vcpu.exit_reason();
          if (r === k.KVM_EXIT_HLT) break;
          if (r === k.KVM_EXIT_IO) log(["out", g.vcpu.io_data(g.vcpu.io())[0]]);
          else if (r === k.KVM_EXIT_MMIO) {
            const m = c.load(k.kvm_run_mmio_layout, uva(g.vcpu.run + k.KVM_RUN_EXIT_UNION));
            log(["mmio", hex(Number(m.phys_addr)), m.len, m.is_write, Array.from(m.data.subarray(0, m.len))]);
          } else log(["exit", r]);
        }
        log(Array.from(c.peek(uva(rom + 0x10), 4)));
        // The guest's PTE got its accessed and dirty bits: the guest's rights allowed the write.
        log(hex(g.peek32(0x9010) & 0x60));
      });
      expect(log).toEqual([["out", 0xa5], ["mmio", "0x800010", 4, 1, [0x78, 0x56, 0x34, 0x12]], ["out", 0xa5], [0xa5, 0x5a, 0xc3, 0x3c], "0x60"]);
    });

    it("KVM_TRANSLATE walks the PAE tables: 4 KiB and 2 MiB pages, absent PTE and PDPTE", async () => {
      const log = await logged(host, mmu, async (c, log) => {
        const g = await pae_vm(c, hlt);
        for (const a of [0x1234, 0x212345, 0x3fffff, 0x80000010, 0x80001ffc, 0x80002000, 0x40000000, 0xc0000000]) log(hex(await translate(g, a)));
      });
      expect(log).toEqual(["0x1234", "0x412345", "0x5fffff", "0xa010", "0xbffc", null, null, null]);
    });

    it.each([
      ["a read of an absent PTE", [0xa1, ...le32(0x80002008)], 0x80002008, 0],
      ["a read below an absent PDPTE", [0xa1, ...le32(0x40000abc)], 0x40000abc, 0],
      ["a write to a read-only page (CR0.WP=1)", [0xa3, ...le32(0x80000004)], 0x80000004, 3],
      ["a write to an absent PDE", [0xa3, ...le32(0x80600000)], 0x80600000, 2],
    ] as const)("%s is reflected as #PF with CR2 and the error code", async (_what, code, cr2, err) => {
      const log = await logged(host, mmu, async (c, log) => {
        const g = await pae_vm(c, [...code, ...hlt]);
        await run_to(g, k.KVM_EXIT_HLT);
        const r = await g.vcpu.get_regs();
        const s = await g.vcpu.get_sregs();
        log([hex(Number(r.rax)), Number(r.rbx), hex(Number(s.cr2)), hex(Number(r.rip))]);
      });
      // HLT in the handler: RIP is past it (0x3105).
      expect(log).toEqual([[hex(cr2), err, hex(cr2), "0x3105"]]);
    });

    it("a 2 MiB page: the write lands in its frame, and A and D are set in the PDE", async () => {
      const log = await logged(host, mmu, async (c, log) => {
        // mov $0x5eed1e55, %eax; mov %eax, 0x212340; mov 0x3ffff0, %ebx; hlt
        const g = await pae_vm(c, [0xb8, ...le32(0x5eed1e55), 0xa3, ...le32(0x212340), 0x8b, 0x1d, ...le32(0x3ffff0), ...hlt]);
        g.poke32(0x5ffff0, 0x0ddba11);
        log(hex(g.peek32(0x5008) & 0x60));
        await run_to(g, k.KVM_EXIT_HLT);
        log([hex(g.peek32(0x412340)), hex(Number((await g.vcpu.get_regs()).rbx)), hex(g.peek32(0x5008) & 0x60), hex(g.peek32(0x5008) & ~0xfff)]);
      });
      expect(log).toEqual(["0x0", ["0x5eed1e55", "0xddba11", "0x60", "0x400000"]]);
    });

    it("the PDPTRs are the ones loaded with CR3 (shadow); under EPT the CPU model re-reads them", async () => {
      const log = await logged(host, mmu, async (c, log) => {
        const g = await pae_vm(c, hlt);
        await run_to(g, k.KVM_EXIT_HLT);
        // PDPTE 1 now present in memory; no CR3 load yet.
        g.poke32(0x4008, 0x5000 | P);
        log(hex(await translate(g, 0x40001234)));
        await g.vcpu.set_sregs(await g.vcpu.get_sregs()); // loads CR3 (and the PDPTRs) again
        log(hex(await translate(g, 0x40001234)));
      });
      expect(log).toEqual([mmu === "shadow" ? null : "0x1234", "0x1234"]);
    });
  });

  it("write flooding: a page table written with faults through it in between stays shadowed; written on its own, it is zapped once (shadow)", async () => {
    const log = await logged(host, "shadow", async (c, log) => {
      // Phase 1, 8 rounds: point 0x80200000 at gpa 0x10000 + i * 0x1000 (PTE write),
      // INVLPG it, add its first word to EBX (a fault through the shadow page table).
      const phase1 = [
        0x31, 0xdb, // xor %ebx, %ebx
        0xb9, ...le32(8), // mov $8, %ecx
        0x89, 0xc8, // L1: mov %ecx, %eax
        0xc1, 0xe0, 0x0c, // shl $12, %eax
        0x05, ...le32(0x10000 | P | W), // add $0x10003, %eax
        0xa3, ...le32(0xd000), // mov %eax, 0xd000
        0x0f, 0x01, 0x3d, ...le32(0x80200000), // invlpg 0x80200000
        0x03, 0x1d, ...le32(0x80200000), // add 0x80200000, %ebx
        0xe2, 0xe2, // loop L1
        0xe6, 0x80, // out %al, $0x80
      ];
      // Phase 2: 64 stores over the page table with nothing using it: reused as data.
      const phase2 = [
        0xbf, ...le32(0xd000), // mov $0xd000, %edi
        0xb9, ...le32(64), // mov $64, %ecx
        0x89, 0x0f, // L2: mov %ecx, (%edi)
        0x83, 0xc7, 0x04, // add $4, %edi
        0xe2, 0xf9, // loop L2
        0xe6, 0x80, // out %al, $0x80
        ...hlt,
      ];
      const g = await pae_vm(c, [...phase1, ...phase2]);
      for (let i = 1; i <= 8; i++) g.poke32(0x10000 + i * 0x1000, i * 100);
      const dir = await kvm_stat_vm_dir(c, g.vm.fd);
      const stat = async () => [await kvm_stat_read(c, dir, "mmu_flooded"), await kvm_stat_read(c, dir, "exits")];
      const seen: (bigint | null)[][] = [];
      await run_to(g, k.KVM_EXIT_HLT, async () => { seen.push(await stat()); });
      log(Number((await g.vcpu.get_regs()).rbx));
      log(seen[0][0]);
      log(seen[1][0]);
      // 64 stores: the first ones are emulated until the page is given up, then it is
      // mapped writable and the rest run in the guest.
      const exits = Number(seen[1][1]! - seen[0][1]!);
      log(exits < 12);
      log([0, 1, 62, 63].map((i) => g.peek32(0xd000 + i * 4)));
    });
    expect(log).toEqual([3600, 0n, 1n, true, [64, 63, 2, 1]]);
  });
});
