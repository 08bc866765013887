// KVM_MEM_READONLY (KVM_CAP_READONLY_MEM): a user memory slot the guest reads as memory
// and whose writes kvm emulates and hands to userspace as KVM_EXIT_MMIO (a ROM, or flash
// whose writes the VMM interprets). Real mode (shadow MMU without guest paging, and EPT);
// the paged case is in pae.test.ts. The flag rules follow Linux's
// check_memory_region_flags and __kvm_set_memory_region.

import { describe, expect, it } from "vitest";
import * as k from "../../include/uapi/linux/kvm.js";
import { uva } from "../../machine/addr.js";
import { Kvm, KvmError } from "../../userspace/lib/kvm.js";
import { HOSTS, anon, real_mode_vcpu, run_on } from "./harness.js";

const ROM_GPA = 0x20000;

describe.each(HOSTS)("KVM_MEM_READONLY on %s", (host) => {
  describe.each(["shadow", "ept"] as const)("with %s paging", (mmu) => {
    it("reads come from the slot, a store and a string store exit as MMIO writes and change nothing", async () => {
      const log: unknown[] = [];
      const code = [
        0xbb, 0x00, 0x20, //           mov $0x2000, %bx   (ES base 0x20000: the read-only slot)
        0x8e, 0xc3, //                 mov %bx, %es
        0x26, 0xa1, 0x10, 0x00, //     mov %es:0x10, %ax
        0xe6, 0xe9, //                 out %al, $0xe9
        0x26, 0xc7, 0x06, 0x10, 0x00, 0xef, 0xbe, // movw $0xbeef, %es:0x10
        0xb0, 0x7e, //                 mov $0x7e, %al
        0xbf, 0x20, 0x00, //           mov $0x20, %di
        0xb9, 0x02, 0x00, //           mov $2, %cx
        0xf3, 0xaa, //                 rep stosb
        0x26, 0xa1, 0x10, 0x00, //     mov %es:0x10, %ax
        0xe6, 0xe9, //                 out %al, $0xe9
        0xf4, //                       hlt
      ];
      const o = await run_on(host, async (c) => {
        const kvm = await Kvm.open(c);
        const vm = await kvm.create_vm();
        const ram = await anon(c, 0x10000);
        const rom = await anon(c, 0x1000);
        c.poke(uva(ram + 0x1000), Uint8Array.from(code));
        c.poke(uva(rom + 0x10), Uint8Array.from([0x42, 0x24]));
        await vm.set_user_memory_region({ slot: 0, flags: 0, guest_phys_addr: 0n, memory_size: 0x10000n, userspace_addr: BigInt(ram) });
        await vm.set_user_memory_region({ slot: 1, flags: k.KVM_MEM_READONLY, guest_phys_addr: BigInt(ROM_GPA), memory_size: 0x1000n, userspace_addr: BigInt(rom) });
        const vcpu = await real_mode_vcpu(vm, 0x1000, 0x8000);
        for (let i = 0; i < 20; i++) {
          await vcpu.kvm_run();
          const r = vcpu.exit_reason();
          if (r === k.KVM_EXIT_HLT) break;
          if (r === k.KVM_EXIT_IO) log.push(["out", vcpu.io_data(vcpu.io())[0]]);
          else if (r === k.KVM_EXIT_MMIO) {
            const m = c.load(k.kvm_run_mmio_layout, uva(vcpu.run + k.KVM_RUN_EXIT_UNION));
            log.push(["mmio", Number(m.phys_addr), m.len, m.is_write, Array.from(m.data.subarray(0, m.len))]);
          } else log.push(["exit", k.KVM_EXIT_NAMES[r] ?? r]);
        }
        log.push(Array.from(c.peek(uva(rom + 0x10), 2)).concat(Array.from(c.peek(uva(rom + 0x20), 2))));
        return 0;
      }, { mmu });
      expect(o.stderr).toBe("");
      expect(o.leaked_pages).toBe(0);
      expect(log).toEqual([
        ["out", 0x42],
        ["mmio", ROM_GPA + 0x10, 2, 1, [0xef, 0xbe]],
        ["mmio", ROM_GPA + 0x20, 1, 1, [0x7e]],
        ["mmio", ROM_GPA + 0x21, 1, 1, [0x7e]],
        ["out", 0x42],
        [0x42, 0x24, 0, 0],
      ]);
    });
  });

  it("the flag: KVM_CAP_READONLY_MEM, only for user memory, not toggled on an existing slot", async () => {
    const log: unknown[] = [];
    await run_on(host, async (c) => {
      const kvm = await Kvm.open(c);
      log.push(await kvm.check_extension(k.KVM_CAP_READONLY_MEM));
      const vm = await kvm.create_vm();
      const mem = await anon(c, 0x2000);
      const set = async (flags: number, gpa = 0x10000n) => {
        try {
          await vm.set_user_memory_region({ slot: 0, flags, guest_phys_addr: gpa, memory_size: 0x2000n, userspace_addr: BigInt(mem) });
          return 0;
        } catch (e) {
          if (e instanceof KvmError) return e.errname;
          throw e;
        }
      };
      log.push(await set(k.KVM_MEM_READONLY | k.KVM_MEM_LOG_DIRTY_PAGES));
      log.push(await set(k.KVM_MEM_READONLY)); // only the dirty-log flag changes
      log.push(await set(0)); // writable again in place: refused
      log.push(await set(0, 0x20000n)); // nor by moving it
      log.push(await set(k.KVM_MEM_READONLY, 0x20000n)); // a move that keeps the flag
      // The 2007 region ioctl (kernel-allocated memory) knows no KVM_MEM_READONLY.
      const p = (await c.malloc(k.kvm_memory_region_layout.span))!;
      c.store(k.kvm_memory_region_layout, p, { slot: 1, flags: k.KVM_MEM_READONLY, guest_phys_addr: 0x40000n, memory_size: 0x1000n });
      log.push((await c.ioctl(vm.fd, k.KVM_SET_MEMORY_REGION, p)) < 0 ? c.errname() : "ok");
      return 0;
    });
    expect(log).toEqual([1, 0, 0, "EINVAL", "EINVAL", 0, "EINVAL"]);
  });
});
