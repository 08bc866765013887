// Two-dimensional paging (EPT) in kvm: the kvm suites of this directory run again with
// the kvm module parameter enable_ept set (WorldConfig.mmu = "ept"), so every VM they
// create runs its guest under EPT and unrestricted guest instead of shadow paging; then
// what differs between the two MMUs is checked on both: a guest with paging on that
// switches address spaces, the guest's CR3 as KVM_GET_SREGS reports it, and dirty logging.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as k from "../../include/uapi/linux/kvm.js";
import { uva, type Uva } from "../../machine/addr.js";
import type { Libc } from "../../userspace/libc/libc.js";
import { vmm_main } from "../../userspace/vmm/vmm.js";
import { map_kvm_fd } from "../../userspace/lib/kvm.js";
import { HOSTS, run_on, set_default_mmu } from "./harness.js";

set_default_mmu("ept");
await import("./examples.test.js");
await import("./kvm_api.test.js");
await import("./mmio.test.js");

const aspace = new Uint8Array(readFileSync(new URL("../../bench/aspace/aspace.bin", import.meta.url)));
const MMUS = ["shadow", "ept"] as const;

async function ioctl(c: Libc, fd: number, def: Parameters<Libc["ioctl"]>[1], arg: number | bigint = 0): Promise<number> {
  const v = await c.ioctl(fd, def, arg);
  if (v === -1) throw new Error(`ioctl: ${c.errname()}`);
  return v;
}

async function arg<T>(c: Libc, layout: { span: number; encode(v: T, b: Uint8Array, o?: number): number }, v: T): Promise<Uva> {
  const p = (await c.malloc(layout.span))!;
  const b = new Uint8Array(layout.span);
  layout.encode(v, b, 0);
  c.poke(p, b);
  return p;
}

/** A VM whose vcpu starts in real mode at 0x1000 running `code`, with user memory slots. */
async function real_mode_vm(c: Libc, code: number[], slots: { gpa: number; size: number; flags?: number }[]) {
  const kvm = await c.open("/dev/kvm", c.abi.O_RDWR);
  const vm = await ioctl(c, kvm, k.KVM_CREATE_VM, 0);
  const mem: Uva[] = [];
  for (const [i, s] of slots.entries()) {
    const m = (await c.mmap(null, s.size, c.abi.PROT_READ | c.abi.PROT_WRITE, c.abi.MAP_PRIVATE | c.abi.MAP_ANON, -1, 0))!;
    mem.push(m);
    await ioctl(c, vm, k.KVM_SET_USER_MEMORY_REGION, await arg(c, k.kvm_userspace_memory_region_layout, {
      slot: i, flags: s.flags ?? 0, guest_phys_addr: BigInt(s.gpa), memory_size: BigInt(s.size), userspace_addr: BigInt(m),
    }));
  }
  c.poke(uva(mem[0] + 0x1000 - slots[0].gpa), Uint8Array.from(code));
  const vcpu = await ioctl(c, vm, k.KVM_CREATE_VCPU, 0);
  // mmap(2), or the 2007 port's ioctl where the default FreeBSD preset has no fo_mmap.
  const run = await map_kvm_fd(c, vcpu, 0, 8192, "vcpu fd");
  const sp = (await c.malloc(k.kvm_sregs_layout.span))!;
  await ioctl(c, vcpu, k.KVM_GET_SREGS, sp);
  const s = c.load(k.kvm_sregs_layout, sp);
  s.cs.base = 0n;
  s.cs.selector = 0;
  c.store(k.kvm_sregs_layout, sp, s);
  await ioctl(c, vcpu, k.KVM_SET_SREGS, sp);
  const rp = (await c.malloc(k.kvm_regs_layout.span))!;
  await ioctl(c, vcpu, k.KVM_GET_REGS, rp);
  const regs = c.load(k.kvm_regs_layout, rp);
  regs.rip = 0x1000n;
  c.store(k.kvm_regs_layout, rp, regs);
  await ioctl(c, vcpu, k.KVM_SET_REGS, rp);
  const kvm_run = async () => {
    await ioctl(c, vcpu, k.KVM_RUN);
    return c.peek32(uva(run + 8));
  };
  const sregs = async () => {
    await ioctl(c, vcpu, k.KVM_GET_SREGS, sp);
    return c.load(k.kvm_sregs_layout, sp);
  };
  const dirty_log = async (slot: number) => {
    const bm = (await c.malloc(8))!;
    c.poke(bm, new Uint8Array(8));
    await ioctl(c, vm, k.KVM_GET_DIRTY_LOG, await arg(c, k.kvm_dirty_log_layout, { slot, padding1: 0, dirty_bitmap: BigInt(bm) }));
    return c.peek8(bm);
  };
  return { vm, vcpu, mem, kvm_run, sregs, dirty_log };
}

describe.each(HOSTS)("shadow paging and EPT on %s", (host) => {
  it.each(MMUS)("with %s paging, a guest switching among 8 address spaces prints the same sum", async (mmu) => {
    const o = await run_on(host, (c) => vmm_main(c, { mem_mib: 8, images: [{ bytes: aspace, gpa: 0x1000 }], entry: 0x1000 }), { mmu });
    expect(o).toEqual({ stdout: "aspace sum=00018600\n", stderr: "", exit_code: 0, signal: null, leaked_pages: 0 });
  });

  it.each(MMUS)("with %s paging, KVM_GET_SREGS reports the CR3 and CR0 the guest loaded", async (mmu) => {
    const log: unknown[] = [];
    const o = await run_on(host, async (c) => {
      // mov eax, 0x5000; mov cr3, eax; mov eax, cr0; or al, 1; mov cr0, eax; hlt
      const g = await real_mode_vm(c, [0x66, 0xb8, 0x00, 0x50, 0x00, 0x00, 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, 0x0c, 0x01, 0x0f, 0x22, 0xc0, 0xf4],
        [{ gpa: 0, size: 0x10000 }]);
      log.push(await g.kvm_run());
      const s = await g.sregs();
      log.push(Number(s.cr3), Number(s.cr0) & 1);
      return 0;
    }, { mmu });
    expect(o.exit_code).toBe(0);
    expect(o.leaked_pages).toBe(0);
    expect(log).toEqual([k.KVM_EXIT_HLT, 0x5000, 1]);
  });

  it.each(MMUS)("with %s paging, KVM_GET_DIRTY_LOG returns the pages written since the last call", async (mmu) => {
    const log: unknown[] = [];
    const o = await run_on(host, async (c) => {
      // ds = 0x1000 (base 0x10000: the logged slot); write pages 1 and 3, read page 2,
      // out to 0xe9; then write page 0; hlt.
      const code = [
        0xb8, 0x00, 0x10, 0x8e, 0xd8,
        0xc6, 0x06, 0x00, 0x10, 0x01,
        0xc6, 0x06, 0x00, 0x30, 0x03,
        0xa0, 0x00, 0x20,
        0xe6, 0xe9,
        0xc6, 0x06, 0x00, 0x00, 0x07,
        0xf4,
      ];
      const g = await real_mode_vm(c, code, [{ gpa: 0, size: 0x10000 }, { gpa: 0x10000, size: 0x4000, flags: k.KVM_MEM_LOG_DIRTY_PAGES }]);
      log.push(await g.kvm_run(), await g.dirty_log(1), await g.dirty_log(1));
      log.push(await g.kvm_run(), await g.dirty_log(1));
      log.push(c.peek8(g.mem[1]), c.peek8(uva(g.mem[1] + 0x1000)), c.peek8(uva(g.mem[1] + 0x3000)));
      return 0;
    }, { mmu });
    expect(o.exit_code).toBe(0);
    expect(o.leaked_pages).toBe(0);
    expect(log).toEqual([k.KVM_EXIT_IO, 0b1010, 0, k.KVM_EXIT_HLT, 0b0001, 7, 1, 3]);
  });
});
