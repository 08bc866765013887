// The KVM API, one ioctl and one error at a time, on both hosts (in the manner of
// rust-vmm's kvm-ioctls tests). Each case is a user program; errno names are the
// host's own (EAGAIN differs, EINVAL does not), so cases compare names.

import { describe, expect, it } from "vitest";
import { r, struct_arg } from "../support/raw_ioctl.js";
import * as k from "../../include/uapi/linux/kvm.js";
import { uva } from "../../machine/addr.js";
import type { Libc } from "../../userspace/libc/libc.js";
import { map_kvm_fd } from "../../userspace/lib/kvm.js";
import { HOSTS, anon, run_logged } from "./harness.js";


/** Run `body` on a host; return what it logged. The run must not leak a page. */
const on = run_logged;

async function kvm_fd(c: Libc): Promise<number> {
  const fd = await c.open("/dev/kvm", c.abi.O_RDWR);
  if (fd < 0) throw new Error(`open /dev/kvm: ${c.errname()}`);
  return fd;
}

async function vm_fd(c: Libc): Promise<{ kvm: number; vm: number }> {
  const kvm = await kvm_fd(c);
  const vm = await c.ioctl(kvm, k.KVM_CREATE_VM, 0);
  if (vm < 0) throw new Error(`KVM_CREATE_VM: ${c.errname()}`);
  return { kvm, vm };
}


const region = (slot: number, gpa: number, size: number, addr: number, flags = 0): k.kvm_userspace_memory_region => ({
  slot, flags, guest_phys_addr: BigInt(gpa), memory_size: BigInt(size), userspace_addr: BigInt(addr),
});

async function set_region(c: Libc, vm: number, m: k.kvm_userspace_memory_region): Promise<number | string> {
  return r(c, vm, k.KVM_SET_USER_MEMORY_REGION, await struct_arg(c, k.kvm_userspace_memory_region_layout, m));
}

/** An address no mapping covers. */
const UNMAPPED = 0x7000_0000_0000;

describe.each(HOSTS)("KVM API on %s", (host) => {
  it("KVM_GET_API_VERSION returns 12; EINVAL with a non-zero argument", async () => {
    expect(await on(host, async (c, log) => {
      const kvm = await kvm_fd(c);
      log(await r(c, kvm, k.KVM_GET_API_VERSION));
      log(await r(c, kvm, k.KVM_GET_API_VERSION, 1));
    })).toEqual([12, "EINVAL"]);
  });

  it("KVM_CREATE_VM returns a new fd; EINVAL for a machine type other than 0", async () => {
    const log = await on(host, async (c, log) => {
      const kvm = await kvm_fd(c);
      const vm = await r(c, kvm, k.KVM_CREATE_VM, 0);
      log(typeof vm === "number" && vm > kvm);
      log(await r(c, kvm, k.KVM_CREATE_VM, 1));
    });
    expect(log).toEqual([true, "EINVAL"]);
  });

  it("KVM_CHECK_EXTENSION: capabilities, and 0 for unknown ones", async () => {
    expect(await on(host, async (c, log) => {
      const kvm = await kvm_fd(c);
      for (const cap of [k.KVM_CAP_USER_MEMORY, k.KVM_CAP_NR_MEMSLOTS, k.KVM_CAP_MAX_VCPUS, k.KVM_CAP_READONLY_MEM, 99999])
        log(await r(c, kvm, k.KVM_CHECK_EXTENSION, cap));
    })).toEqual([1, 32, 16, 1, 0]);
  });

  it("KVM_GET_VCPU_MMAP_SIZE covers kvm_run and the PIO page", async () => {
    expect(await on(host, async (c, log) => log(await r(c, await kvm_fd(c), k.KVM_GET_VCPU_MMAP_SIZE)))).toEqual([8192]);
  });

  it("an unknown ioctl on /dev/kvm is ENOTTY", async () => {
    expect(await on(host, async (c, log) => log(await r(c, await kvm_fd(c), { name: "bogus", dir: 0, type: k.KVMIO, nr: 0x7f, size: 0 })))).toEqual(["ENOTTY"]);
  });

  it("KVM_SET_USER_MEMORY_REGION: every EINVAL of the reference table", async () => {
    expect(await on(host, async (c, log) => {
      const { vm } = await vm_fd(c);
      const mem = await anon(c, 0x4000);
      log(await set_region(c, vm, region(0, 0x1000, 0x1000, mem, 4))); // unknown flag
      log(await set_region(c, vm, region(0, 0x1800, 0x1000, mem))); // unaligned gpa
      log(await set_region(c, vm, region(0, 0x1000, 0x800, mem))); // unaligned size
      log(await set_region(c, vm, region(0, 0x1000, 0x1000, mem + 8))); // unaligned userspace_addr
      log(await set_region(c, vm, region(32, 0x1000, 0x1000, mem))); // slot out of range
      log(await set_region(c, vm, { ...region(0, 0, 0x1000, mem), guest_phys_addr: 0xfffffffffffff000n })); // wraps
      log(await set_region(c, vm, region(0, 0, 0, mem))); // delete an empty slot
    })).toEqual(["EINVAL", "EINVAL", "EINVAL", "EINVAL", "EINVAL", "EINVAL", "EINVAL"]);
  });

  it("KVM_SET_USER_MEMORY_REGION: overlap EEXIST, resize EINVAL, same parameters 0, delete 0, bad pointer EFAULT", async () => {
    expect(await on(host, async (c, log) => {
      const { vm } = await vm_fd(c);
      const mem = await anon(c, 0x4000);
      log(await set_region(c, vm, region(0, 0x1000, 0x2000, mem)));
      log(await set_region(c, vm, region(1, 0x2000, 0x1000, mem + 0x2000))); // overlaps slot 0
      log(await set_region(c, vm, region(0, 0x1000, 0x1000, mem))); // resize
      log(await set_region(c, vm, region(0, 0x1000, 0x2000, mem))); // identical
      log(await set_region(c, vm, region(0, 0x1000, 0, mem))); // delete
      log(await r(c, vm, k.KVM_SET_USER_MEMORY_REGION, UNMAPPED));
    })).toEqual([0, "EEXIST", "EINVAL", 0, 0, "EFAULT"]);
  });

  it("KVM_CREATE_VCPU: EINVAL out of range, EEXIST for a duplicate id", async () => {
    const log = await on(host, async (c, log) => {
      const { vm } = await vm_fd(c);
      log(typeof (await r(c, vm, k.KVM_CREATE_VCPU, 0)));
      log(await r(c, vm, k.KVM_CREATE_VCPU, 0));
      log(await r(c, vm, k.KVM_CREATE_VCPU, 16));
    });
    expect(log).toEqual(["number", "EEXIST", "EINVAL"]);
  });

  it("vcpu: reset state in KVM_GET_SREGS/KVM_GET_REGS, KVM_SET_REGS round trip, EFAULT, ENOTTY, KVM_RUN EINVAL", async () => {
    const log = await on(host, async (c, log) => {
      const { vm } = await vm_fd(c);
      const vcpu = await c.ioctl(vm, k.KVM_CREATE_VCPU, 0);
      const sp = (await c.malloc(k.kvm_sregs_layout.span))!;
      log(await r(c, vcpu, k.KVM_GET_SREGS, sp));
      const s = c.load(k.kvm_sregs_layout, sp);
      log([s.cs.selector, Number(s.cs.base), Number(s.cr0)]);
      const rp = (await c.malloc(k.kvm_regs_layout.span))!;
      await c.ioctl(vcpu, k.KVM_GET_REGS, rp);
      const regs = c.load(k.kvm_regs_layout, rp);
      log([Number(regs.rip), Number(regs.rflags), Number(regs.rdx)]);
      regs.rax = 0x12345678n;
      regs.rip = 0x100n;
      c.store(k.kvm_regs_layout, rp, regs);
      log(await r(c, vcpu, k.KVM_SET_REGS, rp));
      c.poke(rp, new Uint8Array(k.kvm_regs_layout.span));
      await c.ioctl(vcpu, k.KVM_GET_REGS, rp);
      const back = c.load(k.kvm_regs_layout, rp);
      log([Number(back.rax), Number(back.rip)]);
      log(await r(c, vcpu, k.KVM_SET_REGS, UNMAPPED));
      log(await r(c, vcpu, k.KVM_GET_REGS, UNMAPPED));
      log(await r(c, vcpu, k.KVM_RUN, 1));
      log(await r(c, vcpu, { name: "bogus", dir: 0, type: k.KVMIO, nr: 0xff, size: 0 }));
    });
    expect(log).toEqual([0, [0xf000, 0xffff0000, 0x60000010], [0xfff0, 2, 0x6f6], 0, [0x12345678, 0x100], "EFAULT", "EFAULT", "EINVAL", "ENOTTY"]);
  });

  it("KVM_GET_MSR_INDEX_LIST: the list; too small an array is E2BIG", async () => {
    const log = await on(host, async (c, log) => {
      const kvm = await kvm_fd(c);
      const p = (await c.malloc(4 + 4 * 64))!;
      c.store(k.kvm_msr_list_layout, p, { nmsrs: 64 });
      log(await r(c, kvm, k.KVM_GET_MSR_INDEX_LIST, p));
      const n = c.peek32(p);
      log(n);
      log(Array.from({ length: n }, (_, i) => c.peek32(uva(p + 4 + 4 * i))));
      c.store(k.kvm_msr_list_layout, p, { nmsrs: 1 });
      log(await r(c, kvm, k.KVM_GET_MSR_INDEX_LIST, p));
      log(c.peek32(p));
    });
    expect(log.slice(0, 4)).toEqual([0, 7, [0x174, 0x175, 0x176, 0x10, 0x1b, 0x1a0, 0xc0000080], "E2BIG"]);
    // Linux copies the real count back even with E2BIG; FreeBSD's sys_ioctl copies
    // IOC_OUT data only on success, so the caller still sees its own 1 (the 2007
    // port's problem with this ioctl).
    expect(log[4]).toBe(host === "linux" ? 7 : 1);
  });

  it("KVM_SET_MSRS / KVM_GET_MSRS: count processed, stop at an unknown MSR, E2BIG at 256", async () => {
    const log = await on(host, async (c, log) => {
      const { vm } = await vm_fd(c);
      const vcpu = await c.ioctl(vm, k.KVM_CREATE_VCPU, 0);
      const p = (await c.malloc(8 + 16 * 3))!;
      const put = (entries: [number, bigint][]) => {
        c.store(k.kvm_msrs_layout, p, { nmsrs: entries.length, pad: 0 });
        entries.forEach(([index, data], i) => c.store(k.kvm_msr_entry_layout, uva(p + 8 + 16 * i), { index, reserved: 0, data }));
      };
      put([[0x174, 0x10n], [0x175, 0x8000n], [0x999, 1n]]);
      log(await r(c, vcpu, k.KVM_SET_MSRS, p));
      put([[0x174, 0n], [0x175, 0n]]);
      log(await r(c, vcpu, k.KVM_GET_MSRS, p));
      log([c.peek64(uva(p + 8 + 8)), c.peek64(uva(p + 8 + 16 + 8))]);
      c.store(k.kvm_msrs_layout, p, { nmsrs: 256, pad: 0 });
      log(await r(c, vcpu, k.KVM_GET_MSRS, p));
    });
    expect(log).toEqual([2, 2, [0x10n, 0x8000n], "E2BIG"]);
  });

  it("KVM_TRANSLATE in real mode is the identity; KVM_INTERRUPT rejects irq 256", async () => {
    const log = await on(host, async (c, log) => {
      const { vm } = await vm_fd(c);
      const vcpu = await c.ioctl(vm, k.KVM_CREATE_VCPU, 0);
      const p = await struct_arg(c, k.kvm_translation_layout, { linear_address: 0x12345n, physical_address: 0n, valid: 0, writeable: 0, usermode: 0, pad: new Uint8Array(5) });
      log(await r(c, vcpu, k.KVM_TRANSLATE, p));
      const t = c.load(k.kvm_translation_layout, p);
      log([Number(t.physical_address), t.valid]);
      log(await r(c, vcpu, k.KVM_INTERRUPT, await struct_arg(c, k.kvm_interrupt_layout, { irq: 256 })));
      log(await r(c, vcpu, k.KVM_INTERRUPT, await struct_arg(c, k.kvm_interrupt_layout, { irq: 32 })));
    });
    expect(log).toEqual([0, [0x12345, 1], "EINVAL", 0]);
  });

  it("KVM_GET_DIRTY_LOG: EINVAL for a slot out of range, ENOENT for a slot without logging", async () => {
    expect(await on(host, async (c, log) => {
      const { vm } = await vm_fd(c);
      const mem = await anon(c, 0x1000);
      await set_region(c, vm, region(0, 0, 0x1000, mem));
      const bm = (await c.malloc(8))!;
      log(await r(c, vm, k.KVM_GET_DIRTY_LOG, await struct_arg(c, k.kvm_dirty_log_layout, { slot: 40, padding1: 0, dirty_bitmap: BigInt(bm) })));
      log(await r(c, vm, k.KVM_GET_DIRTY_LOG, await struct_arg(c, k.kvm_dirty_log_layout, { slot: 0, padding1: 0, dirty_bitmap: BigInt(bm) })));
    })).toEqual(["EINVAL", "ENOENT"]);
  });

  // The default FreeBSD preset is the 2007 port's, whose shim cannot hook mmap(2) on
  // KVM's fds (ENODEV): there the pages are mapped with the port's KVM_FREEBSD_MMAP.
  it("KVM_SET_MEMORY_REGION: kernel pages mapped through the VM fd are the guest's memory", async () => {
    const log = await on(host, async (c, log) => {
      const { kvm, vm } = await vm_fd(c);
      log(await r(c, vm, k.KVM_SET_MEMORY_REGION, await struct_arg(c, k.kvm_memory_region_layout, { slot: 0, flags: 0, guest_phys_addr: 0n, memory_size: 0x2000n })));
      const mapped = await c.mmap(null, 0x2000, c.abi.PROT_READ | c.abi.PROT_WRITE, c.abi.MAP_SHARED, vm, 0);
      log(mapped !== null ? "mmap" : c.errname());
      const mem = mapped ?? (await map_kvm_fd(c, vm, 0, 0x2000, "vm fd"));
      // out %al, $0xe9 of the byte at 0x1800, then hlt.
      c.poke(uva(mem + 0x1000), Uint8Array.from([0xa0, 0x00, 0x18, 0xe6, 0xe9, 0xf4]));
      c.poke(uva(mem + 0x1800), Uint8Array.from([0x5a]));
      const vcpu = await c.ioctl(vm, k.KVM_CREATE_VCPU, 0);
      const run = await map_kvm_fd(c, vcpu, 0, 8192, "vcpu fd");
      const sp = (await c.malloc(k.kvm_sregs_layout.span))!;
      await c.ioctl(vcpu, k.KVM_GET_SREGS, sp);
      const s = c.load(k.kvm_sregs_layout, sp);
      s.cs.base = 0n;
      s.cs.selector = 0;
      c.store(k.kvm_sregs_layout, sp, s);
      await c.ioctl(vcpu, k.KVM_SET_SREGS, sp);
      const rp = (await c.malloc(k.kvm_regs_layout.span))!;
      await c.ioctl(vcpu, k.KVM_GET_REGS, rp);
      const regs = c.load(k.kvm_regs_layout, rp);
      regs.rip = 0x1000n;
      c.store(k.kvm_regs_layout, rp, regs);
      await c.ioctl(vcpu, k.KVM_SET_REGS, rp);
      log(await r(c, vcpu, k.KVM_RUN));
      const io = c.load(k.kvm_run_io_layout, uva(run + 32));
      log([c.peek32(uva(run + 8)), io.port, c.peek8(uva(run + Number(io.data_offset)))]);
      log(await r(c, vcpu, k.KVM_RUN));
      log(c.peek32(uva(run + 8)));
      void kvm;
    });
    expect(log).toEqual([0, host === "linux" ? "mmap" : "ENODEV", 0, [k.KVM_EXIT_IO, 0xe9, 0x5a], 0, k.KVM_EXIT_HLT]);
  });
});
