// "Using the KVM API" (LWN, 2015), re-expressed as a program of a simulated process:
// real-mode code at gpa 0x1000 adds two registers, prints the sum and a newline on
// port 0x3f8, and halts. Expected output: "4\nKVM_EXIT_HLT\n".
// One change for the 2007 FreeBSD port, as its kvmctl had one ("Reflect into userspace
// the API mmap() change"): where mmap(2) of the vcpu fd fails with ENODEV, kvm_run is
// mapped with the port's KVM_FREEBSD_MMAP (map_kvm_fd). The output stays the
// article's; the kernel log (`lkvm example lwn -v`) shows the ioctl.

import * as uapi from "../../include/uapi/linux/kvm.js";
import { uva } from "../../machine/addr.js";
import type { Libc } from "../libc/libc.js";
import { KvmError, map_kvm_fd } from "../lib/kvm.js";

const code = Uint8Array.from([
  0xba, 0xf8, 0x03, // mov $0x3f8, %dx
  0x00, 0xd8, //       add %bl, %al
  0x04, 0x30, //       add $'0', %al
  0xee, //             out %al, (%dx)
  0xb0, 0x0a, //       mov $'\n', %al
  0xee, //             out %al, (%dx)
  0xf4, //             hlt
]);

export async function lwn_main(c: Libc): Promise<number> {
  const err = async (msg: string) => {
    await c.puts(2, `lwn: ${msg}\n`);
    return 1;
  };
  const kvm = await c.open("/dev/kvm", c.abi.O_RDWR | c.abi.O_CLOEXEC);
  if (kvm === -1) return err(`/dev/kvm: ${c.errname()}`);

  let ret = await c.ioctl(kvm, uapi.KVM_GET_API_VERSION, 0);
  if (ret === -1) return err(`KVM_GET_API_VERSION: ${c.errname()}`);
  if (ret !== 12) return err(`KVM_GET_API_VERSION ${ret}, expected 12`);
  ret = await c.ioctl(kvm, uapi.KVM_CHECK_EXTENSION, uapi.KVM_CAP_USER_MEMORY);
  if (ret === -1) return err(`KVM_CHECK_EXTENSION: ${c.errname()}`);
  if (!ret) return err("Required extension KVM_CAP_USER_MEM not available");

  const vmfd = await c.ioctl(kvm, uapi.KVM_CREATE_VM, 0);
  if (vmfd === -1) return err(`KVM_CREATE_VM: ${c.errname()}`);

  const mem = await c.mmap(null, 0x1000, c.abi.PROT_READ | c.abi.PROT_WRITE, c.abi.MAP_SHARED | c.abi.MAP_ANON, -1, 0);
  if (mem === null) return err(`allocating guest memory: ${c.errname()}`);
  c.poke(mem, code);

  const region = await c.malloc(uapi.kvm_userspace_memory_region_layout.span);
  if (region === null) return err("malloc");
  c.store(uapi.kvm_userspace_memory_region_layout, region, {
    slot: 0, flags: 0, guest_phys_addr: 0x1000n, memory_size: 0x1000n, userspace_addr: BigInt(mem),
  });
  ret = await c.ioctl(vmfd, uapi.KVM_SET_USER_MEMORY_REGION, region);
  if (ret === -1) return err(`KVM_SET_USER_MEMORY_REGION: ${c.errname()}`);

  const vcpufd = await c.ioctl(vmfd, uapi.KVM_CREATE_VCPU, 0);
  if (vcpufd === -1) return err(`KVM_CREATE_VCPU: ${c.errname()}`);

  ret = await c.ioctl(kvm, uapi.KVM_GET_VCPU_MMAP_SIZE, 0);
  if (ret === -1) return err(`KVM_GET_VCPU_MMAP_SIZE: ${c.errname()}`);
  const mmap_size = ret;
  if (mmap_size < uapi.KVM_RUN_SIZE) return err("KVM_GET_VCPU_MMAP_SIZE unexpectedly small");
  let run;
  try {
    run = await map_kvm_fd(c, vcpufd, 0, mmap_size, "vcpu fd");
  } catch (e) {
    if (e instanceof KvmError) return err(`mmap vcpu: ${e.errname}`);
    throw e;
  }

  const sregs_p = await c.malloc(uapi.kvm_sregs_layout.span);
  if (sregs_p === null) return err("malloc");
  ret = await c.ioctl(vcpufd, uapi.KVM_GET_SREGS, sregs_p);
  if (ret === -1) return err(`KVM_GET_SREGS: ${c.errname()}`);
  const sregs = c.load(uapi.kvm_sregs_layout, sregs_p);
  sregs.cs.base = 0n;
  sregs.cs.selector = 0;
  c.store(uapi.kvm_sregs_layout, sregs_p, sregs);
  ret = await c.ioctl(vcpufd, uapi.KVM_SET_SREGS, sregs_p);
  if (ret === -1) return err(`KVM_SET_SREGS: ${c.errname()}`);

  const regs_p = await c.malloc(uapi.kvm_regs_layout.span);
  if (regs_p === null) return err("malloc");
  const regs = Object.fromEntries(uapi.KVM_REGS_FIELDS.map((f) => [f, 0n])) as unknown as uapi.kvm_regs;
  regs.rip = 0x1000n;
  regs.rax = 2n;
  regs.rbx = 2n;
  regs.rflags = 0x2n;
  c.store(uapi.kvm_regs_layout, regs_p, regs);
  ret = await c.ioctl(vcpufd, uapi.KVM_SET_REGS, regs_p);
  if (ret === -1) return err(`KVM_SET_REGS: ${c.errname()}`);

  for (;;) {
    ret = await c.ioctl(vcpufd, uapi.KVM_RUN, 0);
    if (ret === -1) return err(`KVM_RUN: ${c.errname()}`);
    const exit_reason = c.peek32(uva(run + 8));
    switch (exit_reason) {
      case uapi.KVM_EXIT_HLT:
        await c.puts(1, "KVM_EXIT_HLT\n");
        return 0;
      case uapi.KVM_EXIT_IO: {
        const io = c.load(uapi.kvm_run_io_layout, uva(run + uapi.KVM_RUN_EXIT_UNION));
        if (io.direction === uapi.KVM_EXIT_IO_OUT && io.size === 1 && io.port === 0x3f8 && io.count === 1) {
          await c.write(1, c.peek(uva(run + Number(io.data_offset)), 1));
        } else return err("unhandled KVM_EXIT_IO");
        break;
      }
      case uapi.KVM_EXIT_FAIL_ENTRY:
        return err(`KVM_EXIT_FAIL_ENTRY: hardware_entry_failure_reason = 0x${c.peek64(uva(run + 32)).toString(16)}`);
      case uapi.KVM_EXIT_INTERNAL_ERROR:
        return err(`KVM_EXIT_INTERNAL_ERROR: suberror = 0x${c.peek32(uva(run + 32)).toString(16)}`);
      default:
        return err(`exit_reason = 0x${exit_reason.toString(16)}`);
    }
  }
}
