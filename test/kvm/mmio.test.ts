// MMIO: a guest access outside every memory slot is decoded by kvm's emulator, handed to
// userspace as KVM_EXIT_MMIO, and completed on the next KVM_RUN.

import { describe, expect, it } from "vitest";
import * as k from "../../include/uapi/linux/kvm.js";
import { uva } from "../../machine/addr.js";
import type { Libc } from "../../userspace/libc/libc.js";
import { Kvm } from "../../userspace/lib/kvm.js";
import { HOSTS, real_mode_vcpu, run_on } from "./harness.js";

/** Run real-mode `code` at 0x1000 with one 64 KiB slot at 0; MMIO reads answer `answer(gpa, len)`.
 *  Logs every MMIO exit and every byte OUT to port 0xe9 until HLT. */
async function mmio_guest(c: Libc, code: number[], answer: (gpa: number, len: number) => number, log: (x: unknown) => void): Promise<void> {
  const kvm = await Kvm.open(c);
  const vm = await kvm.create_vm();
  const mem = (await c.mmap(null, 0x10000, c.abi.PROT_READ | c.abi.PROT_WRITE, c.abi.MAP_PRIVATE | c.abi.MAP_ANON, -1, 0))!;
  c.poke(uva(mem + 0x1000), Uint8Array.from(code));
  await vm.set_user_memory_region({ slot: 0, flags: 0, guest_phys_addr: 0n, memory_size: 0x10000n, userspace_addr: BigInt(mem) });
  const vcpu = await real_mode_vcpu(vm, 0x1000, 0x8000);
  for (let i = 0; i < 100; i++) {
    await vcpu.kvm_run();
    const reason = vcpu.exit_reason();
    if (reason === k.KVM_EXIT_HLT) return;
    if (reason === k.KVM_EXIT_IO) {
      const io = vcpu.io();
      log(["out", io.port, Array.from(vcpu.io_data(io))]);
      continue;
    }
    if (reason !== k.KVM_EXIT_MMIO) {
      log(["exit", k.KVM_EXIT_NAMES[reason] ?? reason]);
      return;
    }
    const m = c.load(k.kvm_run_mmio_layout, uva(vcpu.run + k.KVM_RUN_EXIT_UNION));
    const gpa = Number(m.phys_addr);
    if (m.is_write) log(["mmio write", gpa, m.len, Array.from(m.data.subarray(0, m.len))]);
    else {
      log(["mmio read", gpa, m.len]);
      const v = answer(gpa, m.len);
      const data = new Uint8Array(8);
      for (let b = 0; b < m.len; b++) data[b] = (v >>> (8 * b)) & 0xff;
      c.poke(uva(vcpu.run + k.KVM_RUN_EXIT_UNION + k.kvm_run_mmio_layout.offsetOf("data")!), data);
    }
  }
  log("too many exits");
}

describe.each(HOSTS)("MMIO on %s", (host) => {
  it("a read, an ALU read-modify-write and a string store to an unbacked address go to userspace", async () => {
    const log: unknown[] = [];
    const code = [
      0xbb, 0x00, 0x20, //           mov $0x2000, %bx        (ES base 0x20000: no slot there)
      0x8e, 0xc3, //                 mov %bx, %es
      0x26, 0xa1, 0x10, 0x00, //     mov %es:0x10, %ax       ; MMIO read, 2 bytes at 0x20010
      0xe6, 0xe9, //                 out %al, $0xe9
      0x26, 0x83, 0x06, 0x20, 0x00, 0x05, // addw $5, %es:0x20 ; read, then write 0x20020
      0xb0, 0x7e, //                 mov $0x7e, %al
      0x31, 0xff, //                 xor %di, %di
      0xb9, 0x02, 0x00, //           mov $2, %cx
      0xf3, 0xaa, //                 rep stosb               ; 2 writes at 0x20000, 0x20001
      0xf4, //                       hlt
    ];
    const o = await run_on(host, async (c) => {
      await mmio_guest(c, code, (gpa) => (gpa === 0x20010 ? 0x1234 : 0x0100), (x) => log.push(x));
      return 0;
    });
    expect(o.leaked_pages).toBe(0);
    expect(log).toEqual([
      ["mmio read", 0x20010, 2],
      ["out", 0xe9, [0x34]],
      ["mmio read", 0x20020, 2],
      ["mmio write", 0x20020, 2, [0x05, 0x01]],
      ["mmio write", 0x20000, 1, [0x7e]],
      ["mmio write", 0x20001, 1, [0x7e]],
    ]);
  });

  it("an instruction the emulator does not know is KVM_EXIT_INTERNAL_ERROR (emulation)", async () => {
    const log: unknown[] = [];
    // mov $0x2000, %bx; mov %bx, %es; divw %es:0x10 ; hlt
    const code = [0xbb, 0x00, 0x20, 0x8e, 0xc3, 0x26, 0xf7, 0x36, 0x10, 0x00, 0xf4];
    const o = await run_on(host, async (c) => {
      await mmio_guest(c, code, () => 1, (x) => log.push(x));
      return 0;
    });
    expect(log).toEqual([["exit", "KVM_EXIT_INTERNAL_ERROR"]]);
    expect(o.leaked_pages).toBe(0);
  });
});
