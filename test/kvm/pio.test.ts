// Port I/O exits: IN/OUT, and string I/O with REP (kvm-selftests' userspace_io_test does
// `rep insb` with the count in ECX), on both hosts.

import { describe, expect, it } from "vitest";
import * as k from "../../include/uapi/linux/kvm.js";
import { uva } from "../../machine/addr.js";
import type { Libc } from "../../userspace/libc/libc.js";
import { Kvm } from "../../userspace/lib/kvm.js";
import { HOSTS, real_mode_vcpu, run_on } from "./harness.js";

/** Run real-mode code at 0x1000; every IO exit is logged and INs are answered by `answer`.
 *  Returns guest memory [0x3000, 0x3000 + dump) and the final registers. */
async function pio_guest(c: Libc, code: number[], answer: (port: number, i: number) => number, log: (x: unknown) => void, dump: number) {
  const kvm = await Kvm.open(c);
  const vm = await kvm.create_vm();
  const mem = (await c.mmap(null, 0x10000, c.abi.PROT_READ | c.abi.PROT_WRITE, c.abi.MAP_PRIVATE | c.abi.MAP_ANON, -1, 0))!;
  c.poke(uva(mem + 0x1000), Uint8Array.from(code));
  c.poke(uva(mem + 0x2000), new TextEncoder().encode("hello, ports"));
  await vm.set_user_memory_region({ slot: 0, flags: 0, guest_phys_addr: 0n, memory_size: 0x10000n, userspace_addr: BigInt(mem) });
  const vcpu = await real_mode_vcpu(vm, 0x1000);
  let n = 0;
  for (;;) {
    await vcpu.kvm_run();
    const reason = vcpu.exit_reason();
    if (reason === k.KVM_EXIT_HLT) break;
    if (reason !== k.KVM_EXIT_IO) throw new Error(`exit ${k.KVM_EXIT_NAMES[reason]}`);
    const io = vcpu.io();
    if (io.direction === k.KVM_EXIT_IO_OUT) log(["out", io.port, io.size, io.count, new TextDecoder().decode(vcpu.io_data(io))]);
    else {
      log(["in", io.port, io.size, io.count]);
      const d = new Uint8Array(io.size * io.count);
      for (let i = 0; i < d.length; i++) d[i] = answer(io.port, n++);
      vcpu.set_io_data(io, d);
    }
  }
  const r = await vcpu.get_regs();
  return { mem: c.peek(uva(mem + 0x3000), dump), ecx: Number(r.rcx), esi: Number(r.rsi), edi: Number(r.rdi), rip: Number(r.rip) };
}

describe.each(HOSTS)("port I/O on %s", (host) => {
  it("rep outsb sends a string in one exit; rep insb fills memory; registers advance", async () => {
    const log: unknown[] = [];
    let res: Awaited<ReturnType<typeof pio_guest>> | null = null;
    const code = [
      0xbe, 0x00, 0x20, //       mov $0x2000, %si
      0xb9, 0x0c, 0x00, //       mov $12, %cx
      0xba, 0xe9, 0x00, //       mov $0xe9, %dx
      0xfc, //                   cld
      0xf3, 0x6e, //             rep outsb
      0xbf, 0x00, 0x30, //       mov $0x3000, %di
      0xb9, 0x05, 0x00, //       mov $5, %cx
      0xba, 0x80, 0x00, //       mov $0x80, %dx
      0xf3, 0x6c, //             rep insb
      0xf4, //                   hlt
    ];
    const o = await run_on(host, async (c) => {
      res = await pio_guest(c, code, (_p, i) => 0x41 + i, (x) => log.push(x), 6);
      return 0;
    });
    expect(o.leaked_pages).toBe(0);
    expect(log).toEqual([["out", 0xe9, 1, 12, "hello, ports"], ["in", 0x80, 1, 5]]);
    expect(res).toEqual({ mem: Uint8Array.from([0x41, 0x42, 0x43, 0x44, 0x45, 0]), ecx: 0, esi: 0x200c, edi: 0x3005, rip: 0x1018 });
  });

  it("in and out of words and dwords go through RAX", async () => {
    const log: unknown[] = [];
    let res: Awaited<ReturnType<typeof pio_guest>> | null = null;
    const code = [
      0xe5, 0x70, //             in $0x70, %ax
      0x66, 0xe7, 0x71, //       out %eax, $0x71
      0xf4,
    ];
    await run_on(host, async (c) => {
      res = await pio_guest(c, code, (_p, i) => [0x34, 0x12][i], (x) => log.push(x), 0);
      return 0;
    });
    expect(log).toEqual([["in", 0x70, 2, 1], ["out", 0x71, 4, 1, "4\u0012\u0000\u0000"]]);
    expect(res!.rip).toBe(0x1006);
  });
});
