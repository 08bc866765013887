// The two kernel-interface changes the 2007 port made to KVM (seed 000), each with the
// problem it answered and the port's interface, on the port's presets, on today's
// LinuxKPI and on host-linux:
//   "Implement the mmap() on the VM file descriptor as an ioctl()" (Aug 7 2007)
//   "Change kernel interface of KVM_GET_MSR_INDEX_LIST ioctl()" (Jul 7 2007)

import { describe, expect, it } from "vitest";
import { r, struct_arg } from "../support/raw_ioctl.js";
import { run_world, type HostName } from "../../boot/world.js";
import {
  LINUXKPI_TODAY_CONFIG, LINUX_KMOD_COMPAT_2007_CONFIG, LINUX_KMOD_COMPAT_2007_SNAPSHOT_CONFIG, type LinuxkpiConfig,
} from "../../compat/linuxkpi/linux_config.js";
import * as k from "../../include/uapi/linux/kvm.js";
import { kvm_vm_list } from "../../kvm/kvm_main.js";
import { msrs_to_save } from "../../kvm/x86_msr.js";
import { uva, type Uva } from "../../machine/addr.js";
import { CapturePipe } from "../../machine/host_pipe.js";
import { Kvm, KvmError, map_kvm_fd } from "../../userspace/lib/kvm.js";
import { freebsd_abi } from "../../userspace/libc/abi_freebsd.js";
import { linux_abi } from "../../userspace/libc/abi_linux.js";
import { Libc } from "../../userspace/libc/libc.js";

interface Stage {
  name: string;
  host: HostName;
  compat?: LinuxkpiConfig;
}
const SNAPSHOT: Stage = { name: "2007-snapshot", host: "freebsd", compat: LINUX_KMOD_COMPAT_2007_SNAPSHOT_CONFIG };
const PORT_2007: Stage = { name: "2007", host: "freebsd", compat: LINUX_KMOD_COMPAT_2007_CONFIG };
const LINUXKPI: Stage = { name: "linuxkpi", host: "freebsd", compat: LINUXKPI_TODAY_CONFIG };
const LINUX: Stage = { name: "host-linux", host: "linux" };

/** Run `body` as a process on the stage's host; what it logged. The run must end
 *  cleanly and give every page back. */
async function on(stage: Stage, body: (c: Libc, log: (x: unknown) => void) => Promise<void>): Promise<unknown[]> {
  const out = new CapturePipe();
  const err = new CapturePipe();
  const log: unknown[] = [];
  const abi = stage.host === "freebsd" ? freebsd_abi : linux_abi;
  const r = await run_world({ host: stage.host, cpus: 2, seed: 1, ram_mib: 64, compat: stage.compat }, "t", async () => {
    await body(new Libc(abi), (x) => log.push(x));
    return 0;
  }, out, err);
  expect(err.text()).toBe("");
  expect(r.status).toEqual({ exit_code: 0, signal: null });
  expect(r.free_pages_before - r.free_pages_after).toBe(0);
  return log;
}

/** KVM_FREEBSD_MMAP on fd: the address, or the errno name. */
async function port_mmap(c: Libc, fd: number, offset: number, size: number, argp?: Uva | number): Promise<Uva | string> {
  const p = argp ?? (await struct_arg(c, k.kvm_freebsd_mmap_layout, { offset: BigInt(offset), size: BigInt(size), addr: 0n }));
  const v = await r(c, fd, k.KVM_FREEBSD_MMAP, p);
  if (typeof v === "string") return v;
  return uva(Number(c.load(k.kvm_freebsd_mmap_layout, uva(p)).addr));
}

const mmap_errno = async (c: Libc, fd: number, size: number): Promise<Uva | string> =>
  (await c.mmap(null, size, c.abi.PROT_READ | c.abi.PROT_WRITE, c.abi.MAP_SHARED, fd, 0)) ?? c.errname();

/** A VM with 8 KiB of KVM_SET_MEMORY_REGION memory at gpa 0 and one vcpu. */
async function kernel_memory_vm(c: Libc) {
  const kvm = await c.open("/dev/kvm", c.abi.O_RDWR);
  const vm = await c.ioctl(kvm, k.KVM_CREATE_VM, 0);
  const set = await r(c, vm, k.KVM_SET_MEMORY_REGION, await struct_arg(c, k.kvm_memory_region_layout, { slot: 0, flags: 0, guest_phys_addr: 0n, memory_size: 0x2000n }));
  if (set !== 0) throw new Error(`KVM_SET_MEMORY_REGION: ${set}`);
  const vcpu = await c.ioctl(vm, k.KVM_CREATE_VCPU, 0);
  return { kvm, vm, vcpu };
}

/** mov al, [0x1800]; out 0xe9, al; inc al; mov [0x1900], al; hlt -- at gpa 0x1000. */
const GUEST = [0xa0, 0x00, 0x18, 0xe6, 0xe9, 0xfe, 0xc0, 0xa2, 0x00, 0x19, 0xf4];

/** Put GUEST in the memory mapped at `mem` with 0x5a at 0x1800, run it to HLT with
 *  kvm_run at `run`; log the port and byte it wrote, and the exit reason. */
async function run_guest(c: Libc, vcpu: number, mem: Uva, run: Uva, log: (x: unknown) => void): Promise<void> {
  c.poke(uva(mem + 0x1000), Uint8Array.from(GUEST));
  c.poke(uva(mem + 0x1800), Uint8Array.of(0x5a));
  const sp = (await c.malloc(k.kvm_sregs_layout.span))!;
  await c.ioctl(vcpu, k.KVM_GET_SREGS, sp);
  const s = c.load(k.kvm_sregs_layout, sp);
  s.cs.base = 0n;
  s.cs.selector = 0;
  c.store(k.kvm_sregs_layout, sp, s);
  await c.ioctl(vcpu, k.KVM_SET_SREGS, sp);
  const rp = (await c.malloc(k.kvm_regs_layout.span))!;
  await c.ioctl(vcpu, k.KVM_GET_REGS, rp);
  c.store(k.kvm_regs_layout, rp, { ...c.load(k.kvm_regs_layout, rp), rip: 0x1000n, rflags: 2n });
  await c.ioctl(vcpu, k.KVM_SET_REGS, rp);
  await c.ioctl(vcpu, k.KVM_RUN, 0);
  const io = c.load(k.kvm_run_io_layout, uva(run + k.KVM_RUN_EXIT_UNION));
  log([k.KVM_EXIT_NAMES[c.peek32(uva(run + 8))], io.port, c.peek8(uva(run + Number(io.data_offset)))]);
  await c.ioctl(vcpu, k.KVM_RUN, 0);
  log(k.KVM_EXIT_NAMES[c.peek32(uva(run + 8))]);
}

describe("mmap of the VM fd as an ioctl (Aug 7 2007)", () => {
  it.each([SNAPSHOT, PORT_2007])("$name: mmap(2) of the VM and vcpu fds fails with ENODEV; KVM_FREEBSD_MMAP maps the pages, both ways", async (stage) => {
    const log = await on(stage, async (c, log) => {
      const { vm, vcpu } = await kernel_memory_vm(c);
      log(await mmap_errno(c, vm, 0x2000));
      log(await mmap_errno(c, vcpu, 0x2000));
      const mem = await port_mmap(c, vm, 0, 0x2000);
      const run = await port_mmap(c, vcpu, 0, 0x2000);
      if (typeof mem === "string" || typeof run === "string") throw new Error(`KVM_FREEBSD_MMAP: ${mem} ${run}`);
      await run_guest(c, vcpu, mem, run, log);
      // The guest's store, seen through the mapping.
      log(c.peek8(uva(mem + 0x1900)));
    });
    expect(log).toEqual(["ENODEV", "ENODEV", ["KVM_EXIT_IO", 0xe9, 0x5a], "KVM_EXIT_HLT", 0x5b]);
  });

  it.each([LINUXKPI, LINUX])("$name: mmap(2) works, and KVM_FREEBSD_MMAP maps the same pages", async (stage) => {
    const log = await on(stage, async (c, log) => {
      const { vm, vcpu } = await kernel_memory_vm(c);
      const mem = await mmap_errno(c, vm, 0x2000);
      const run = await mmap_errno(c, vcpu, 0x2000);
      if (typeof mem === "string" || typeof run === "string") throw new Error(`mmap: ${mem} ${run}`);
      await run_guest(c, vcpu, mem, run, log);
      const view = await port_mmap(c, vm, 0x1000, 0x1000);
      if (typeof view === "string") throw new Error(`KVM_FREEBSD_MMAP: ${view}`);
      log([view !== mem, c.peek8(uva(view + 0x900))]);
      c.poke(uva(view + 0x800), Uint8Array.of(0x33));
      log(c.peek8(uva(mem + 0x1800)));
    });
    expect(log).toEqual([["KVM_EXIT_IO", 0xe9, 0x5a], "KVM_EXIT_HLT", [true, 0x5b], 0x33]);
  });

  it.each([SNAPSHOT, PORT_2007, LINUXKPI, LINUX])("$name: the mapping holds the VM; munmap lets it go, and every page comes back", async (stage) => {
    const log = await on(stage, async (c, log) => {
      const { kvm, vm, vcpu } = await kernel_memory_vm(c);
      const mem = await map_kvm_fd(c, vm, 0, 0x2000, "vm fd");
      c.poke(uva(mem + 0x1234), Uint8Array.of(0x77));
      await c.close(vcpu);
      await c.close(vm);
      // The VM outlives its fds while its memory is mapped (the mapping holds the file).
      log([kvm_vm_list().length, c.peek8(uva(mem + 0x1234))]);
      log(await c.munmap(mem, 0x2000));
      log(kvm_vm_list().length);
      await c.close(kvm);
    });
    expect(log).toEqual([[1, 0x77], 0, 0]);
  });

  it.each([PORT_2007, LINUXKPI, LINUX])("$name: bad arguments: EINVAL for what cannot be mapped, EFAULT for the argument, ENOTTY on /dev/kvm", async (stage) => {
    const log = await on(stage, async (c, log) => {
      const { kvm, vm, vcpu } = await kernel_memory_vm(c);
      log(await port_mmap(c, vm, 0, 0)); // no pages
      log(await port_mmap(c, vm, 0x800, 0x1000)); // offset not page aligned
      log(await port_mmap(c, vm, 0, 0x1800)); // size not page aligned
      log(await port_mmap(c, vm, 0x1000, 0x2000)); // runs past the slot
      log(await port_mmap(c, vm, 0x100000, 0x1000)); // no slot there
      // User memory (KVM_SET_USER_MEMORY_REGION) is the process's own, not the VM fd's.
      const anon = (await c.mmap(null, 0x1000, c.abi.PROT_READ | c.abi.PROT_WRITE, c.abi.MAP_PRIVATE | c.abi.MAP_ANON, -1, 0))!;
      await c.ioctl(vm, k.KVM_SET_USER_MEMORY_REGION, await struct_arg(c, k.kvm_userspace_memory_region_layout, {
        slot: 1, flags: 0, guest_phys_addr: 0x10000n, memory_size: 0x1000n, userspace_addr: BigInt(anon),
      }));
      log(await port_mmap(c, vm, 0x10000, 0x1000));
      log(await port_mmap(c, vcpu, 0x2000, 0x1000)); // past kvm_run and the PIO page
      log(await port_mmap(c, vm, 0, 0x1000, 0x7000_0000_0000)); // argument not mapped
      log(await port_mmap(c, kvm, 0, 0x1000)); // the system fd maps nothing
    });
    expect(log).toEqual(["EINVAL", "EINVAL", "EINVAL", "EINVAL", "EINVAL", "EINVAL", "EINVAL", "EFAULT", "ENOTTY"]);
  });
});

describe("KVM_GET_MSR_INDEX_LIST's kernel interface (Jul 7 2007)", () => {
  const E2BIG_LIST = async (c: Libc, log: (x: unknown) => void) => {
    const kvm = await c.open("/dev/kvm", c.abi.O_RDWR);
    // Linux's interface, an array too small for the list.
    const p = (await c.malloc(8 + 4 * 64))!;
    c.store(k.kvm_msr_list_layout, p, { nmsrs: 1 });
    log(await r(c, kvm, k.KVM_GET_MSR_INDEX_LIST, p));
    log(c.peek32(p));
    // The port's interface: the ioctl succeeds, kvm's error is in the argument.
    c.store(k.kvm_freebsd_msr_list_layout, p, { nmsrs: 1, error: 0 });
    log(await r(c, kvm, k.KVM_FREEBSD_GET_MSR_INDEX_LIST, p));
    const h = c.load(k.kvm_freebsd_msr_list_layout, p);
    log([c.abi.errno_names[h.error] ?? h.error, h.nmsrs]);
    // Asked again with room for nmsrs entries.
    log(await r(c, kvm, k.KVM_FREEBSD_GET_MSR_INDEX_LIST, p));
    const h2 = c.load(k.kvm_freebsd_msr_list_layout, p);
    log([h2.error === 0 ? 0 : c.abi.errno_names[h2.error], Array.from({ length: h2.error === 0 ? h2.nmsrs : 0 }, (_, i) => c.peek32(uva(p + 8 + 4 * i)))]);
    // And what the library makes of it (its own open: the port allows one at a time).
    await c.close(kvm);
    try {
      log(await (await Kvm.open(c)).get_msr_index_list());
    } catch (e) {
      if (!(e instanceof KvmError)) throw e;
      log(e.message);
    }
  };
  const n = msrs_to_save.length;

  it.each([SNAPSHOT, PORT_2007])("$name: Linux's interface loses the count (E2BIG, nmsrs still 1); the port's returns 0 with error E2BIG and the count, then the list", async (stage) => {
    expect(await on(stage, E2BIG_LIST)).toEqual(["E2BIG", 1, 0, ["E2BIG", n], 0, [0, [...msrs_to_save]], [...msrs_to_save]]);
  });

  it("linuxkpi: the count is lost the same way; the port's interface gets the count, but the list lies past the fake ioctl address's window (EFAULT in the error field)", async () => {
    expect(await on(LINUXKPI, E2BIG_LIST)).toEqual([
      "E2BIG", 1, 0, ["E2BIG", n], 0, ["EFAULT", []], "KVM_FREEBSD_GET_MSR_INDEX_LIST: EFAULT",
    ]);
  });

  it("host-linux: Linux's interface copies the count back with E2BIG; the port's interface works there too", async () => {
    expect(await on(LINUX, E2BIG_LIST)).toEqual(["E2BIG", n, 0, ["E2BIG", n], 0, [0, [...msrs_to_save]], [...msrs_to_save]]);
  });
});
