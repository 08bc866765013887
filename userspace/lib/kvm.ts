// Thin wrappers over the KVM ioctls (what libkvm was to qemu-kvm, or kvm-ioctls to
// rust-vmm): each marshals its C struct into the process's memory, issues the ioctl
// with this OS's encoding, and unmarshals the result. Errors come back as
// KvmError carrying the errno name, never as a silent default.

import * as uapi from "../../include/uapi/linux/kvm.js";
import type { IoctlDef } from "../../include/uapi/asm-generic/ioctl.js";
import { Structure } from "../../include/uapi/struct_layout.js";
import { uva, type Uva } from "../../machine/addr.js";
import type { Libc } from "../libc/libc.js";

export class KvmError extends Error {
  constructor(readonly call: string, readonly errno: number, readonly errname: string) {
    super(`${call}: ${errname}`);
    this.name = "KvmError";
  }
}

async function check(c: Libc, what: string, r: number): Promise<number> {
  if (r < 0) throw new KvmError(what, c.errno, c.errname());
  return r;
}

/** ioctl with an in (and maybe out) struct in a scratch buffer of this process. */
async function ioctl_struct<T>(c: Libc, fd: number, req: IoctlDef, layout: Structure<T>, value: T | null): Promise<{ r: number; out: T }> {
  const p = await c.malloc(layout.span);
  if (p === null) throw new KvmError(`${req.name} (malloc)`, c.errno, c.errname());
  if (value !== null) c.store(layout, p, value);
  else c.poke(p, new Uint8Array(layout.span));
  const r = await check(c, req.name, await c.ioctl(fd, req, p));
  return { r, out: c.load(layout, p) };
}

export class Kvm {
  private constructor(readonly c: Libc, readonly fd: number) {}

  static async open(c: Libc, path = "/dev/kvm"): Promise<Kvm> {
    const fd = await c.open(path, c.abi.O_RDWR | c.abi.O_CLOEXEC);
    if (fd < 0) throw new KvmError(`open ${path}`, c.errno, c.errname());
    return new Kvm(c, fd);
  }

  get_api_version = async () => check(this.c, "KVM_GET_API_VERSION", await this.c.ioctl(this.fd, uapi.KVM_GET_API_VERSION));
  check_extension = async (cap: number) => check(this.c, "KVM_CHECK_EXTENSION", await this.c.ioctl(this.fd, uapi.KVM_CHECK_EXTENSION, cap));
  get_vcpu_mmap_size = async () => check(this.c, "KVM_GET_VCPU_MMAP_SIZE", await this.c.ioctl(this.fd, uapi.KVM_GET_VCPU_MMAP_SIZE));

  async create_vm(type = 0): Promise<VmFd> {
    const fd = await check(this.c, "KVM_CREATE_VM", await this.c.ioctl(this.fd, uapi.KVM_CREATE_VM, type));
    return new VmFd(this.c, this, fd);
  }

  close = () => this.c.close(this.fd);
}

export class VmFd {
  constructor(readonly c: Libc, readonly kvm: Kvm, readonly fd: number) {}

  async set_user_memory_region(r: uapi.kvm_userspace_memory_region): Promise<void> {
    await ioctl_struct(this.c, this.fd, uapi.KVM_SET_USER_MEMORY_REGION, uapi.kvm_userspace_memory_region_layout, r);
  }

  /** The 2007 API: the kernel allocates the memory; map it with mmap_guest_memory. */
  async set_memory_region(r: uapi.kvm_memory_region): Promise<void> {
    await ioctl_struct(this.c, this.fd, uapi.KVM_SET_MEMORY_REGION, uapi.kvm_memory_region_layout, r);
  }

  /** mmap(vm_fd, offset = guest_phys_addr): the pages of a KVM_SET_MEMORY_REGION slot. */
  async mmap_guest_memory(guest_phys_addr: number, size: number): Promise<Uva> {
    const a = this.c.abi;
    const p = await this.c.mmap(null, size, a.PROT_READ | a.PROT_WRITE, a.MAP_SHARED, this.fd, guest_phys_addr);
    if (p === null) throw new KvmError("mmap(vm fd)", this.c.errno, this.c.errname());
    return p;
  }

  async create_vcpu(id: number): Promise<VcpuFd> {
    const fd = await check(this.c, "KVM_CREATE_VCPU", await this.c.ioctl(this.fd, uapi.KVM_CREATE_VCPU, id));
    const size = await this.kvm.get_vcpu_mmap_size();
    const a = this.c.abi;
    const run = await this.c.mmap(null, size, a.PROT_READ | a.PROT_WRITE, a.MAP_SHARED, fd, 0);
    if (run === null) throw new KvmError("mmap(vcpu fd)", this.c.errno, this.c.errname());
    return new VcpuFd(this.c, fd, run, size);
  }

  close = () => this.c.close(this.fd);
}

export class VcpuFd {
  constructor(readonly c: Libc, readonly fd: number, readonly run: Uva, readonly run_size: number) {}

  async get_regs(): Promise<uapi.kvm_regs> {
    return (await ioctl_struct(this.c, this.fd, uapi.KVM_GET_REGS, uapi.kvm_regs_layout, null)).out;
  }
  async set_regs(r: uapi.kvm_regs): Promise<void> {
    await ioctl_struct(this.c, this.fd, uapi.KVM_SET_REGS, uapi.kvm_regs_layout, r);
  }
  async get_sregs(): Promise<uapi.kvm_sregs> {
    return (await ioctl_struct(this.c, this.fd, uapi.KVM_GET_SREGS, uapi.kvm_sregs_layout, null)).out;
  }
  async set_sregs(s: uapi.kvm_sregs): Promise<void> {
    await ioctl_struct(this.c, this.fd, uapi.KVM_SET_SREGS, uapi.kvm_sregs_layout, s);
  }

  /** KVM_RUN; the result is in the mapped kvm_run. */
  async kvm_run(): Promise<void> {
    await check(this.c, "KVM_RUN", await this.c.ioctl(this.fd, uapi.KVM_RUN, 0));
  }

  /** KVM_INTERRUPT: queue the external interrupt `vector` (what the PIC answered at INTA);
   *  kvm injects it when the guest can take it. */
  async interrupt(vector: number): Promise<void> {
    await ioctl_struct(this.c, this.fd, uapi.KVM_INTERRUPT, uapi.kvm_interrupt_layout, { irq: vector });
  }
  /** kvm_run.request_interrupt_window: exit with KVM_EXIT_IRQ_WINDOW_OPEN once the guest can take an interrupt. */
  set_request_interrupt_window(on: boolean): void {
    this.c.poke(uva(this.run + uapi.kvm_run_header_layout.offsetOf("request_interrupt_window")!), Uint8Array.of(on ? 1 : 0));
  }

  run_header(): uapi.kvm_run_header {
    return this.c.load(uapi.kvm_run_header_layout, this.run);
  }
  exit_reason(): number {
    return this.c.peek32(uva(this.run + 8));
  }
  io(): uapi.kvm_run_io {
    return this.c.load(uapi.kvm_run_io_layout, uva(this.run + uapi.KVM_RUN_EXIT_UNION));
  }
  /** The bytes of a PIO exit, in the mapping at io.data_offset. */
  io_data(io: uapi.kvm_run_io): Uint8Array {
    return this.c.peek(uva(this.run + Number(io.data_offset)), io.size * io.count);
  }
  set_io_data(io: uapi.kvm_run_io, bytes: Uint8Array): void {
    this.c.poke(uva(this.run + Number(io.data_offset)), bytes);
  }
  /** kvm_run.hw.hardware_exit_reason / fail_entry / internal suberror: the first u64 of the union. */
  exit_union_u64(): bigint {
    return this.c.peek64(uva(this.run + uapi.KVM_RUN_EXIT_UNION));
  }

  close = () => this.c.close(this.fd);
}
