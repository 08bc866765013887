// Many vcpus per VM, each vcpu its own thread of the VMM (as qemu-kvm runs them), on a
// 2-CPU host: every vcpu runs its guest code to HLT, whatever CPUs its thread lands on
// (the VMCS follows the thread: VMCLEAR on the old CPU, VMPTRLD on the new).

import { describe, expect, it } from "vitest";
import * as k from "../../include/uapi/linux/kvm.js";
import { uva } from "../../machine/addr.js";
import { Kvm, type VcpuFd } from "../../userspace/lib/kvm.js";
import { pthread_create, pthread_join } from "../../userspace/libc/pthread.js";
import { HOSTS, run_on } from "./harness.js";

const NVCPUS = 3;
const ROUNDS = 40;

describe.each(HOSTS)("vcpu threads on %s", (host) => {
  it.each([1, 7, 42])(`${NVCPUS} vcpus in ${NVCPUS} threads each count to ${ROUNDS} (seed %i)`, async (seed) => {
    const counts: number[][] = [];
    const o = await run_on(host, async (c) => {
      const kvm = await Kvm.open(c);
      const vm = await kvm.create_vm();
      const mem = (await c.mmap(null, 0x10000, c.abi.PROT_READ | c.abi.PROT_WRITE, c.abi.MAP_PRIVATE | c.abi.MAP_ANON, -1, 0))!;
      // Each vcpu: bx = its id; cx = ROUNDS; 1: out %bx? -> out %ax, $0xe9 with ax = id; a busy
      // loop; loop 1b; hlt. Between outs, 2000 iterations of work so threads interleave.
      c.poke(uva(mem + 0x1000), Uint8Array.from([
        0xb9, ROUNDS, 0x00, //        mov $ROUNDS, %cx
        0x89, 0xd8, //              1: mov %bx, %ax
        0xe7, 0xe9, //                out %ax, $0xe9
        0xba, 0xd0, 0x07, //          mov $2000, %dx
        0x4a, //                    2: dec %dx
        0x75, 0xfd, //                jnz 2b
        0xe2, 0xf4, //                loop 1b
        0xf4, //                      hlt
      ]));
      await vm.set_user_memory_region({ slot: 0, flags: 0, guest_phys_addr: 0n, memory_size: 0x10000n, userspace_addr: BigInt(mem) });
      const vcpus: VcpuFd[] = [];
      for (let id = 0; id < NVCPUS; id++) {
        const v = await vm.create_vcpu(id);
        const s = await v.get_sregs();
        for (const seg of [s.cs, s.ds, s.es, s.ss]) { seg.base = 0n; seg.selector = 0; }
        await v.set_sregs(s);
        const r = await v.get_regs();
        r.rip = 0x1000n;
        r.rbx = BigInt(id);
        r.rsp = BigInt(0x8000 + id * 0x1000);
        await v.set_regs(r);
        vcpus.push(v);
        counts.push([]);
      }
      const run_vcpu = (id: number) => async (): Promise<number> => {
        const v = vcpus[id];
        for (;;) {
          await v.kvm_run();
          const reason = v.exit_reason();
          if (reason === k.KVM_EXIT_HLT) return 100 + id;
          if (reason !== k.KVM_EXIT_IO) return -reason;
          counts[id].push(v.io_data(v.io())[0]);
        }
      };
      const tids: number[] = [];
      for (let id = 0; id < NVCPUS; id++) {
        const t = await pthread_create(c, run_vcpu(id));
        if (t < 0) throw new Error(`pthread_create: ${c.errname()}`);
        tids.push(t);
      }
      const results: number[] = [];
      for (const t of tids) results.push(await pthread_join(c, t));
      await c.puts(1, results.join(",") + "\n");
      return 0;
    }, { cpus: 2, seed });
    expect(o.stderr).toBe("");
    expect(o.stdout).toBe("100,101,102\n");
    expect(counts).toEqual([Array(ROUNDS).fill(0), Array(ROUNDS).fill(1), Array(ROUNDS).fill(2)]);
    expect(o.leaked_pages).toBe(0);
  });
});
