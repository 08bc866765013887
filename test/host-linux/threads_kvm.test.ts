// Threads of a VMM on host-linux with the kvm module loaded: a vcpu thread spinning in
// KVM_RUN (a guest in `jmp $`) is kicked out with EINTR by tgkill, and is taken down
// with its process by SIGKILL; the module unloads and every page comes back.
//
// One CPU: the vcpu loop of kvm/vmx.ts re-enters the guest after a timer exit without
// reaching a suspension point of the engine unless need_resched() is set, which the tick
// does only when another task waits on that CPU. With two CPUs a guest that never exits
// to userspace therefore keeps its CPU's context running synchronously and the other
// CPU never gets a turn (the whole simulation hangs). On one CPU the other threads are
// queued behind the vcpu thread, so the tick sets need_resched and they run.

import { describe, expect, it } from "vitest";
import * as uapi from "../../include/uapi/linux/kvm.js";
import { uva } from "../../machine/addr.js";
import { CapturePipe } from "../../machine/host_pipe.js";
import { syscall } from "../../machine/syscall.js";
import { run_world } from "../../boot/world.js";
import { Libc } from "../../userspace/libc/libc.js";
import { linux_abi } from "../../userspace/libc/abi_linux.js";
import { pthread_create, pthread_join } from "../../userspace/libc/pthread.js";

const NR_gettid = 186, NR_tgkill = 234, SIGALRM = 14;

/** A VM with one page of memory holding `jmp $` at 0x1000, and one vcpu about to run it. */
async function spinning_vcpu(c: Libc): Promise<number> {
  const kvm = await c.open("/dev/kvm", c.abi.O_RDWR);
  const vm = await c.ioctl(kvm, uapi.KVM_CREATE_VM, 0);
  const mem = (await c.mmap(null, 0x2000, c.abi.PROT_READ | c.abi.PROT_WRITE, c.abi.MAP_PRIVATE | c.abi.MAP_ANON, -1, 0))!;
  c.poke(uva(mem + 0x1000), Uint8Array.from([0xeb, 0xfe]));
  const reg = (await c.malloc(uapi.kvm_userspace_memory_region_layout.span))!;
  c.store(uapi.kvm_userspace_memory_region_layout, reg, { slot: 0, flags: 0, guest_phys_addr: 0n, memory_size: 0x2000n, userspace_addr: BigInt(mem) });
  if ((await c.ioctl(vm, uapi.KVM_SET_USER_MEMORY_REGION, reg)) < 0) throw new Error(`KVM_SET_USER_MEMORY_REGION: ${c.errname()}`);
  const vcpu = await c.ioctl(vm, uapi.KVM_CREATE_VCPU, 0);
  if (vcpu < 0) throw new Error(`KVM_CREATE_VCPU: ${c.errname()}`);
  const sp = (await c.malloc(uapi.kvm_sregs_layout.span))!;
  await c.ioctl(vcpu, uapi.KVM_GET_SREGS, sp);
  const s = c.load(uapi.kvm_sregs_layout, sp);
  s.cs.base = 0n;
  s.cs.selector = 0;
  c.store(uapi.kvm_sregs_layout, sp, s);
  await c.ioctl(vcpu, uapi.KVM_SET_SREGS, sp);
  const rp = (await c.malloc(uapi.kvm_regs_layout.span))!;
  await c.ioctl(vcpu, uapi.KVM_GET_REGS, rp);
  const regs = c.load(uapi.kvm_regs_layout, rp);
  regs.rip = 0x1000n;
  c.store(uapi.kvm_regs_layout, rp, regs);
  await c.ioctl(vcpu, uapi.KVM_SET_REGS, rp);
  return vcpu;
}

async function world(program: (c: Libc) => Promise<number>, seed = 1, cpus = 1) {
  const err = new CapturePipe();
  const r = await run_world({ host: "linux", cpus, ram_mib: 64, seed }, "vmm", () => program(new Libc(linux_abi)), new CapturePipe(), err);
  // kvm's locking passes lockdep, even with vcpu threads killed inside KVM_RUN.
  expect(r.kernel.dmesg()).not.toMatch(/WARNING: (possible|bad unlock|lock held|.* still has locks held)/);
  return { status: r.status, leaked: r.free_pages_before - r.free_pages_after, stderr: err.text() };
}

describe("vcpu threads in KVM_RUN", () => {
  it("tgkill kicks a vcpu thread out of KVM_RUN with EINTR; join gets its result", async () => {
    let got: unknown[] = [];
    const r = await world(async (c) => {
      const vcpu = await spinning_vcpu(c);
      let vcpu_tid = 0;
      const t = await pthread_create(c, async () => {
        vcpu_tid = Number(c.abi.decode(await syscall(NR_gettid)).value);
        const v = await c.ioctl(vcpu, uapi.KVM_RUN);
        got.push(v === -1 ? c.errname() : v);
        return 42;
      });
      while (vcpu_tid === 0) await c.getpid();
      for (let i = 0; i < 20; i++) await c.getpid(); // let it enter the guest
      const pid = await c.getpid();
      got.push(Number(c.abi.decode(await syscall(NR_tgkill, pid, vcpu_tid, SIGALRM)).value));
      got.push(await pthread_join(c, t));
      return 0;
    });
    expect(r.stderr).toBe("");
    expect(r.status).toEqual({ exit_code: 0, signal: null });
    expect(got).toEqual([0, "EINTR", 42]);
    expect(r.leaked).toBe(0);
  });

  it("two CPUs: a vcpu in `jmp $` does not starve the other CPU", async () => {
    const r = await world(async (c) => {
      const vcpu = await spinning_vcpu(c);
      const t = await pthread_create(c, async () => {
        await c.ioctl(vcpu, uapi.KVM_RUN);
        return 1;
      });
      for (let i = 0; i < 20; i++) await c.getpid();
      await c.kill(await c.getpid(), c.abi.SIGKILL);
      return await pthread_join(c, t);
    }, 1, 2);
    expect(r.status).toEqual({ exit_code: null, signal: 9 });
    expect(r.leaked).toBe(0);
  });

  it("SIGKILL of the process takes down a vcpu thread spinning in KVM_RUN and one in pthread_join", async () => {
    for (let seed = 1; seed <= 3; seed++) {
      let reached = false;
      const r = await world(async (c) => {
        const vcpu = await spinning_vcpu(c);
        let started = false;
        const t = await pthread_create(c, async () => {
          started = true;
          await c.ioctl(vcpu, uapi.KVM_RUN);
          return 1;
        });
        const killer = await pthread_create(c, async () => {
          while (!started) await c.getpid();
          for (let i = 0; i < 20; i++) await c.getpid();
          await c.kill(await c.getpid(), c.abi.SIGKILL);
          reached = true; // never: SIGKILL is taken on the way out of kill(2)
          return 0;
        });
        await pthread_join(c, t);
        await pthread_join(c, killer);
        reached = true;
        return 0;
      }, seed);
      expect(r.status, `seed ${seed}`).toEqual({ exit_code: null, signal: 9 });
      expect(reached, `seed ${seed}`).toBe(false);
      expect(r.leaked, `seed ${seed}`).toBe(0);
    }
  });
});
