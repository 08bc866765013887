// Linux's KVM selftests and rust-vmm's kvm-ioctls tests, re-expressed against lkvm on both
// hosts: create_max_vcpus, set_memory_region (max slots, move and delete with MMIO reads in
// between), dirty_log (a guest writing its iteration number into pseudo-random pages while
// the host collects logs), guest debugging, and kvm-ioctls' test_run_code sequence.

import { describe, expect, it } from "vitest";
import * as k from "../../include/uapi/linux/kvm.js";
import { uva } from "../../machine/addr.js";
import type { Libc } from "../../userspace/libc/libc.js";
import { Kvm, type VcpuFd, type VmFd } from "../../userspace/lib/kvm.js";
import { HOSTS, anon, run_logged } from "./harness.js";

const on = run_logged;


/** A vcpu in real mode at cs = 0, ip = `rip`. */
async function real_mode_vcpu(vm: VmFd, rip: number, regs: Partial<Record<"rax" | "rbx" | "rcx", bigint>> = {}): Promise<VcpuFd> {
  const vcpu = await vm.create_vcpu(0);
  const s = await vcpu.get_sregs();
  for (const seg of [s.cs, s.ds, s.es, s.ss]) { seg.base = 0n; seg.selector = 0; }
  await vcpu.set_sregs(s);
  const r = await vcpu.get_regs();
  r.rip = BigInt(rip);
  r.rsp = 0x7000n;
  r.rflags = 2n;
  Object.assign(r, regs);
  await vcpu.set_regs(r);
  return vcpu;
}

const mmio = (c: Libc, vcpu: VcpuFd) => c.load(k.kvm_run_mmio_layout, uva(vcpu.run + k.KVM_RUN_EXIT_UNION));
function answer_mmio(c: Libc, vcpu: VcpuFd, value: number): void {
  const d = new Uint8Array(8);
  new DataView(d.buffer).setUint32(0, value >>> 0, true);
  c.poke(uva(vcpu.run + k.KVM_RUN_EXIT_UNION + k.kvm_run_mmio_layout.offsetOf("data")!), d);
}

describe.each(HOSTS)("KVM selftests on %s", (host) => {
  it("create_max_vcpus: KVM_CAP_MAX_VCPUS vcpus, each mapped; one more is EINVAL", async () => {
    const log = await on(host, async (c, log) => {
      const kvm = await Kvm.open(c);
      const max = await kvm.check_extension(k.KVM_CAP_MAX_VCPUS);
      const vm = await kvm.create_vm();
      let ok = 0;
      for (let id = 0; id < max; id++) {
        const v = await vm.create_vcpu(id);
        if (v.fd >= 0 && v.run > 0) ok++;
      }
      log([max, ok]);
      log(await c.ioctl(vm.fd, k.KVM_CREATE_VCPU, max) === -1 ? c.errname() : "created");
    });
    expect(log).toEqual([[16, 16], "EINVAL"]);
  });

  it("set_memory_region: KVM_CAP_NR_MEMSLOTS slots fit, one more does not", async () => {
    const log = await on(host, async (c, log) => {
      const kvm = await Kvm.open(c);
      const n = await kvm.check_extension(k.KVM_CAP_NR_MEMSLOTS);
      const vm = await kvm.create_vm();
      const mem = await anon(c, (n + 1) * 4096);
      let ok = 0;
      for (let slot = 0; slot < n; slot++) {
        await vm.set_user_memory_region({ slot, flags: 0, guest_phys_addr: BigInt(slot * 0x10000), memory_size: 4096n, userspace_addr: BigInt(mem + slot * 4096) });
        ok++;
      }
      log([n, ok]);
      const p = (await c.malloc(32))!;
      c.store(k.kvm_userspace_memory_region_layout, p, { slot: n, flags: 0, guest_phys_addr: BigInt(n * 0x10000), memory_size: 4096n, userspace_addr: BigInt(mem + n * 4096) });
      log((await c.ioctl(vm.fd, k.KVM_SET_USER_MEMORY_REGION, p)) === -1 ? c.errname() : "ok");
    });
    expect(log).toEqual([[32, 32], "EINVAL"]);
  });

  it("set_memory_region: a slot moved and deleted under a running guest reads as MMIO in between", async () => {
    const log = await on(host, async (c, log) => {
      const kvm = await Kvm.open(c);
      const vm = await kvm.create_vm();
      const code = await anon(c, 0x1000);
      // 1: mov 0x2000, %eax ; out %eax, $0xe9 ; jmp 1b   (a dword read of gpa 0x2000, forever)
      c.poke(uva(code), Uint8Array.from([0x66, 0xa1, 0x00, 0x20, 0x66, 0xe7, 0xe9, 0xeb, 0xf7]));
      await vm.set_user_memory_region({ slot: 0, flags: 0, guest_phys_addr: 0x1000n, memory_size: 0x1000n, userspace_addr: BigInt(code) });
      const data = await anon(c, 0x1000);
      c.poke(data, Uint8Array.from([0x78, 0x56, 0x34, 0x12]));
      const region = (gpa: number, size: number) => ({ slot: 1, flags: 0, guest_phys_addr: BigInt(gpa), memory_size: BigInt(size), userspace_addr: BigInt(data) });
      await vm.set_user_memory_region(region(0x2000, 0x1000));
      const vcpu = await real_mode_vcpu(vm, 0x1000);
      const step = async () => {
        await vcpu.kvm_run();
        const r = vcpu.exit_reason();
        if (r === k.KVM_EXIT_IO) return `io ${new DataView(vcpu.io_data(vcpu.io()).buffer).getUint32(0, true).toString(16)}`;
        if (r === k.KVM_EXIT_MMIO) {
          const m = mmio(c, vcpu);
          answer_mmio(c, vcpu, 0xdead);
          return `mmio ${m.is_write ? "write" : "read"} ${Number(m.phys_addr).toString(16)}/${m.len}`;
        }
        return k.KVM_EXIT_NAMES[r];
      };
      log(await step());
      await vm.set_user_memory_region(region(0x8000, 0x1000)); // move away: 0x2000 is MMIO now
      log(await step());
      log(await step());
      await vm.set_user_memory_region(region(0x2000, 0x1000)); // and back
      log(await step());
      await vm.set_user_memory_region(region(0x2000, 0)); // delete
      log(await step());
      log(await step());
    });
    expect(log).toEqual(["io 12345678", "mmio read 2000/4", "io dead", "io 12345678", "mmio read 2000/4", "io dead"]);
  });

  it("dirty_log: a guest writes its iteration number into pseudo-random pages; the logs account for every change", async () => {
    const PAGES = 16;
    const log = await on(host, async (c, log) => {
      const kvm = await Kvm.open(c);
      const vm = await kvm.create_vm();
      const code = await anon(c, 0x1000);
      // guests/... style LCG (assembled with GNU as, .code16): es = 0x1000; ebx = 1; ecx = 0;
      // 1: inc ecx; ebx = ebx * 1103515245 + 12345; eax = ((ebx >> 16) & 15) << 12;
      //    mov %ecx, %es:(%eax)   (the iteration number into one of 16 pages at 0x10000)
      //    every 8 iterations: out %eax (= ecx), $0xe9, a chance for the host to collect.
      c.poke(uva(code), Uint8Array.from([
        0xb8, 0x00, 0x10, 0x8e, 0xc0, 0x66, 0xbb, 0x01, 0x00, 0x00, 0x00, 0x66, 0x31, 0xc9, 0x66, 0x41, 0x66, 0x69,
        0xdb, 0x6d, 0x4e, 0xc6, 0x41, 0x66, 0x81, 0xc3, 0x39, 0x30, 0x00, 0x00, 0x66, 0x89, 0xd8, 0x66, 0xc1, 0xe8,
        0x10, 0x66, 0x83, 0xe0, 0x0f, 0x66, 0xc1, 0xe0, 0x0c, 0x26, 0x67, 0x66, 0x89, 0x08, 0xf6, 0xc1, 0x07, 0x75,
        0xd7, 0x66, 0x89, 0xc8, 0x66, 0xe7, 0xe9, 0xeb, 0xcf,
      ]));
      await vm.set_user_memory_region({ slot: 0, flags: 0, guest_phys_addr: 0x1000n, memory_size: 0x1000n, userspace_addr: BigInt(code) });
      const ram = await anon(c, PAGES * 4096);
      await vm.set_user_memory_region({ slot: 1, flags: k.KVM_MEM_LOG_DIRTY_PAGES, guest_phys_addr: 0x10000n, memory_size: BigInt(PAGES * 4096), userspace_addr: BigInt(ram) });
      const vcpu = await real_mode_vcpu(vm, 0x1000);
      const bitmap = (await c.malloc(8))!;
      const dl = (await c.malloc(k.kvm_dirty_log_layout.span))!;
      c.store(k.kvm_dirty_log_layout, dl, { slot: 1, padding1: 0, dirty_bitmap: BigInt(bitmap) });
      const snapshot = (): number[] => Array.from({ length: PAGES }, (_, p) => c.peek32(uva(ram + p * 4096)));
      let before = snapshot();
      let violations = 0, dirty_total = 0, rounds = 0;
      for (let round = 0; round < 40; round++) {
        await vcpu.kvm_run();
        if (vcpu.exit_reason() !== k.KVM_EXIT_IO) throw new Error(`exit ${vcpu.exit_reason()}`);
        if (round % 5 !== 4) continue;
        if ((await c.ioctl(vm.fd, k.KVM_GET_DIRTY_LOG, dl)) !== 0) throw new Error(`KVM_GET_DIRTY_LOG: ${c.errname()}`);
        const bits = c.peek(bitmap, 8);
        const now = snapshot();
        for (let p = 0; p < PAGES; p++) {
          const dirty = (bits[p >> 3] >> (p & 7)) & 1;
          dirty_total += dirty;
          // A page written since the last collection must be in this log.
          if (now[p] !== before[p] && !dirty) violations++;
        }
        before = now;
        rounds++;
      }
      log([rounds, violations, dirty_total > 0, dirty_total <= rounds * PAGES]);
    });
    expect(log).toEqual([[8, 0, true, true]]);
  });

  it("guest debug: single-step reports each pc; a software breakpoint exits at the int3", async () => {
    const log = await on(host, async (c, log) => {
      const kvm = await Kvm.open(c);
      const vm = await kvm.create_vm();
      const mem = await anon(c, 0x1000);
      c.poke(uva(mem), Uint8Array.from([0x90, 0x40, 0x43, 0xcc, 0xf4])); // nop; inc ax; inc bx; int3; hlt
      await vm.set_user_memory_region({ slot: 0, flags: 0, guest_phys_addr: 0x1000n, memory_size: 0x1000n, userspace_addr: BigInt(mem) });
      const vcpu = await real_mode_vcpu(vm, 0x1000);
      const dbg = (await c.malloc(k.kvm_guest_debug_layout.span))!;
      const set_debug = async (control: number) => {
        c.store(k.kvm_guest_debug_layout, dbg, { control, pad: 0, debugreg: Array(8).fill(0n) });
        return c.ioctl(vcpu.fd, k.KVM_SET_GUEST_DEBUG, dbg);
      };
      log(await set_debug(k.KVM_GUESTDBG_ENABLE | k.KVM_GUESTDBG_SINGLESTEP));
      for (let i = 0; i < 3; i++) {
        await vcpu.kvm_run();
        const d = c.load(k.kvm_debug_exit_arch_layout, uva(vcpu.run + k.KVM_RUN_EXIT_UNION));
        log([k.KVM_EXIT_NAMES[vcpu.exit_reason()], d.exception, Number(d.pc).toString(16)]);
      }
      log(await set_debug(k.KVM_GUESTDBG_ENABLE | k.KVM_GUESTDBG_USE_SW_BP));
      await vcpu.kvm_run();
      const d = c.load(k.kvm_debug_exit_arch_layout, uva(vcpu.run + k.KVM_RUN_EXIT_UNION));
      log([k.KVM_EXIT_NAMES[vcpu.exit_reason()], d.exception, Number(d.pc).toString(16)]);
    });
    expect(log).toEqual([
      0,
      ["KVM_EXIT_DEBUG", 1, "1001"],
      ["KVM_EXIT_DEBUG", 1, "1002"],
      ["KVM_EXIT_DEBUG", 1, "1003"],
      0,
      ["KVM_EXIT_DEBUG", 3, "1003"],
    ]);
  });

  // debug_regs.c's hardware-breakpoint cases: the exit's pc, dr6 (the matched B bit with the
  // reserved bits set) and dr7 (the debugger's). As in Linux, KVM_RUN after an instruction
  // breakpoint hits it again (kvm does not set RF: the selftest's loop over DR0-DR3 relies on
  // it); userspace passes it by setting RFLAGS.RF.
  it("guest debug: hardware instruction breakpoints, write and read/write watchpoints, general detect", async () => {
    const log = await on(host, async (c, log) => {
      const kvm = await Kvm.open(c);
      const vm = await kvm.create_vm();
      const mem = await anon(c, 0x1000);
      c.poke(uva(mem), Uint8Array.from([
        0x90, //                   0x1000 nop              (instruction breakpoint)
        0xa3, 0x00, 0x18, //       0x1001 mov [0x1800], ax (write watchpoint)
        0x8b, 0x1e, 0x00, 0x18, // 0x1004 mov bx, [0x1800] (read/write watchpoint)
        0x0f, 0x21, 0xc0, //       0x1008 mov eax, dr0     (general detect, then the guest's own DR0)
        0x0f, 0x23, 0xd9, //       0x100b mov dr3, ecx     (the guest's own DR3 while the debugger owns them)
        0xf4, //                   0x100e hlt
        0x0f, 0x21, 0xda, //       0x100f mov edx, dr3     (no debugger: the CPU's DR3 is the guest's)
        0xf4, //                   0x1012 hlt
      ]));
      await vm.set_user_memory_region({ slot: 0, flags: 0, guest_phys_addr: 0x1000n, memory_size: 0x1000n, userspace_addr: BigInt(mem) });
      const vcpu = await real_mode_vcpu(vm, 0x1000, { rax: 0x1234n, rcx: 0x5555n });
      const dbg = (await c.malloc(k.kvm_guest_debug_layout.span))!;
      const set_debug = async (control: number, regs: Record<number, number> = {}) => {
        const debugreg = Array(8).fill(0n);
        for (const [i, v] of Object.entries(regs)) debugreg[Number(i)] = BigInt(v);
        c.store(k.kvm_guest_debug_layout, dbg, { control, pad: 0, debugreg });
        return c.ioctl(vcpu.fd, k.KVM_SET_GUEST_DEBUG, dbg);
      };
      const HW = k.KVM_GUESTDBG_ENABLE | k.KVM_GUESTDBG_USE_HW_BP;
      const run = async () => {
        await vcpu.kvm_run();
        const d = c.load(k.kvm_debug_exit_arch_layout, uva(vcpu.run + k.KVM_RUN_EXIT_UNION));
        const name = k.KVM_EXIT_NAMES[vcpu.exit_reason()];
        log(name === "KVM_EXIT_DEBUG" ? [name, d.exception, Number(d.pc).toString(16), Number(d.dr6).toString(16), Number(d.dr7).toString(16)] : [name]);
      };
      // Instruction breakpoint at 0x1000 through each of DR0-DR3 (global enable Gn): the
      // guest stays on the nop, so each run exits there again.
      for (let i = 0; i < 4; i++) {
        await set_debug(HW, { [i]: 0x1000, 7: 0x400 | (1 << (2 * i + 1)) });
        await run();
      }
      // RF set by userspace passes the breakpoint; the write watchpoint (DR1, R/W 01, 2
      // bytes) traps after the store.
      const r = await vcpu.get_regs();
      r.rflags |= 0x10000n;
      await vcpu.set_regs(r);
      await set_debug(HW, { 0: 0x1000, 1: 0x1800, 7: 0x400 | 0x1 | 0x4 | (0x5 << 20) });
      await run();
      // Read/write watchpoint (DR2, R/W 11, 2 bytes): the load traps.
      await set_debug(HW, { 2: 0x1800, 7: 0x400 | 0x10 | (0x7 << 24) });
      await run();
      // DR7.GD: the guest's MOV DR exits as a #DB with BD, on the instruction.
      await set_debug(HW, { 0: 0x1234, 7: 0x400 | 0x2000 });
      await run();
      // Without GD the guest's MOV DRs reach its own registers, not the debugger's.
      await set_debug(HW, { 0: 0x1234, 7: 0x400 });
      await run();
      const r2 = await vcpu.get_regs();
      log(["rax", Number(r2.rax).toString(16)]);
      // Debugging off: the guest runs with its own DR0-DR3 again (DR3 = 0x5555 it wrote).
      await set_debug(0);
      await run();
      const r3 = await vcpu.get_regs();
      log(["rdx", Number(r3.rdx).toString(16), "rip", Number(r3.rip).toString(16)]);
    });
    expect(log).toEqual([
      ["KVM_EXIT_DEBUG", 1, "1000", "ffff0ff1", "402"],
      ["KVM_EXIT_DEBUG", 1, "1000", "ffff0ff2", "408"],
      ["KVM_EXIT_DEBUG", 1, "1000", "ffff0ff4", "420"],
      ["KVM_EXIT_DEBUG", 1, "1000", "ffff0ff8", "480"],
      ["KVM_EXIT_DEBUG", 1, "1004", "ffff0ff2", "500405"],
      ["KVM_EXIT_DEBUG", 1, "1008", "ffff0ff4", "7000410"],
      ["KVM_EXIT_DEBUG", 1, "1008", "ffff2ff0", "2400"],
      ["KVM_EXIT_HLT"],
      ["rax", "0"],
      ["KVM_EXIT_HLT"],
      ["rdx", "5555", "rip", "1013"],
    ]);
  });

  it("guest debug: a control word with an unknown flag is EINVAL and changes nothing", async () => {
    const log = await on(host, async (c, log) => {
      const kvm = await Kvm.open(c);
      const vm = await kvm.create_vm();
      const mem = await anon(c, 0x1000);
      c.poke(uva(mem), Uint8Array.from([0x90, 0x90, 0xf4]));
      await vm.set_user_memory_region({ slot: 0, flags: 0, guest_phys_addr: 0x1000n, memory_size: 0x1000n, userspace_addr: BigInt(mem) });
      const vcpu = await real_mode_vcpu(vm, 0x1000);
      const dbg = (await c.malloc(k.kvm_guest_debug_layout.span))!;
      c.store(k.kvm_guest_debug_layout, dbg, { control: k.KVM_GUESTDBG_ENABLE | k.KVM_GUESTDBG_SINGLESTEP | 0x4, pad: 0, debugreg: Array(8).fill(0n) });
      log((await c.ioctl(vcpu.fd, k.KVM_SET_GUEST_DEBUG, dbg)) === -1 ? c.errname() : "ok");
      await vcpu.kvm_run();
      log(k.KVM_EXIT_NAMES[vcpu.exit_reason()]);
    });
    expect(log).toEqual(["EINVAL", "KVM_EXIT_HLT"]);
  });

  it("kvm-ioctls test_run_code: IO out, IO in, MMIO write, MMIO read, HLT, one dirty page", async () => {
    const log = await on(host, async (c, log) => {
      const kvm = await Kvm.open(c);
      const vm = await kvm.create_vm();
      const mem_size = 0x4000;
      const mem = await anon(c, mem_size);
      c.poke(uva(mem), Uint8Array.from([
        0xba, 0xf8, 0x03, //             mov $0x3f8, %dx
        0x00, 0xd8, //                   add %bl, %al
        0x04, 0x30, //                   add $'0', %al
        0xee, //                         out %al, %dx
        0xec, //                         in %dx, %al
        0xc6, 0x06, 0x00, 0x80, 0x00, // movb $0, (0x8000): an MMIO write
        0x8a, 0x16, 0x00, 0x80, //       mov (0x8000), %dl: an MMIO read
        0xc6, 0x06, 0x00, 0x20, 0x00, // movb $0, (0x2000): dirties one page of guest memory
        0xf4, //                         hlt
      ]));
      await vm.set_user_memory_region({ slot: 0, flags: k.KVM_MEM_LOG_DIRTY_PAGES, guest_phys_addr: 0x1000n, memory_size: BigInt(mem_size), userspace_addr: BigInt(mem) });
      const vcpu = await real_mode_vcpu(vm, 0x1000, { rax: 2n, rbx: 3n });
      for (;;) {
        await vcpu.kvm_run();
        const r = vcpu.exit_reason();
        if (r === k.KVM_EXIT_IO) {
          const io = vcpu.io();
          log(io.direction === k.KVM_EXIT_IO_OUT ? ["IoOut", io.port, String.fromCharCode(vcpu.io_data(io)[0])] : ["IoIn", io.port]);
        } else if (r === k.KVM_EXIT_MMIO) {
          const m = mmio(c, vcpu);
          log([m.is_write ? "MmioWrite" : "MmioRead", Number(m.phys_addr).toString(16), m.len]);
        } else {
          log(k.KVM_EXIT_NAMES[r]);
          break;
        }
      }
      const bm = (await c.malloc(8))!;
      const dl = (await c.malloc(k.kvm_dirty_log_layout.span))!;
      c.store(k.kvm_dirty_log_layout, dl, { slot: 0, padding1: 0, dirty_bitmap: BigInt(bm) });
      await c.ioctl(vm.fd, k.KVM_GET_DIRTY_LOG, dl);
      const bits = c.peek(bm, 8);
      log(["dirty pages", bits.reduce((a, b) => a + [...b.toString(2)].filter((x) => x === "1").length, 0), bits[0].toString(2)]);
    });
    expect(log).toEqual([
      ["IoOut", 0x3f8, "5"], ["IoIn", 0x3f8], ["MmioWrite", "8000", 1], ["MmioRead", "8000", 1], "KVM_EXIT_HLT",
      ["dirty pages", 1, "10"],
    ]);
  });
});
