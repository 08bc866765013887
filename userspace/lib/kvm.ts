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

/** Where the library reports how it got around a host's limits (e.g. the VMM's -v). */
export type KvmNote = (msg: string) => Promise<void> | void;

/**
 * Map `size` bytes of a KVM fd at `offset` (shared, read/write): mmap(2), as on Linux;
 * where that fails with ENODEV -- the 2007 FreeBSD port, whose shim could not hook
 * mmap(2) on KVM's fds -- the port's KVM_FREEBSD_MMAP, which kvmctl used there ("Reflect
 * into userspace the API mmap() change", Aug 7 2007). The fallback is reported to
 * `note`; any other error is thrown.
 */
export async function map_kvm_fd(c: Libc, fd: number, offset: number, size: number, what: string, note?: KvmNote): Promise<Uva> {
  const a = c.abi;
  const p = await c.mmap(null, size, a.PROT_READ | a.PROT_WRITE, a.MAP_SHARED, fd, offset);
  if (p !== null) return p;
  if (c.errname() !== "ENODEV") throw new KvmError(`mmap(${what})`, c.errno, c.errname());
  await note?.(`mmap(${what}): ENODEV; mapping it with KVM_FREEBSD_MMAP, the 2007 port's ioctl`);
  const { out } = await ioctl_struct(c, fd, uapi.KVM_FREEBSD_MMAP, uapi.kvm_freebsd_mmap_layout, { offset: BigInt(offset), size: BigInt(size), addr: 0n });
  return uva(Number(out.addr));
}

export class Kvm {
  private constructor(readonly c: Libc, readonly fd: number, readonly note?: KvmNote) {}

  static async open(c: Libc, path = "/dev/kvm", note?: KvmNote): Promise<Kvm> {
    const fd = await c.open(path, c.abi.O_RDWR | c.abi.O_CLOEXEC);
    if (fd < 0) throw new KvmError(`open ${path}`, c.errno, c.errname());
    return new Kvm(c, fd, note);
  }

  /**
   * The MSRs KVM_GET_MSRS/KVM_SET_MSRS know. With FreeBSD's ABI through the 2007 port's
   * KVM_FREEBSD_GET_MSR_INDEX_LIST, as its kvmctl did ("Make kvmctl.c use the new
   * interface", Jul 7 2007): there sys_ioctl copies nothing back when the ioctl fails,
   * so Linux's KVM_GET_MSR_INDEX_LIST never tells a too-small caller the count it needs.
   * With Linux's ABI, Linux's ioctl. Either way: ask with no room, learn the count from
   * E2BIG, ask again.
   */
  async get_msr_index_list(): Promise<number[]> {
    const c = this.c;
    const freebsd = c.abi.name === "freebsd";
    const L = freebsd ? uapi.kvm_freebsd_msr_list_layout : uapi.kvm_msr_list_layout;
    const req = freebsd ? uapi.KVM_FREEBSD_GET_MSR_INDEX_LIST : uapi.KVM_GET_MSR_INDEX_LIST;
    let room = 0;
    for (let attempt = 0; attempt < 2; attempt++) {
      const p = await c.malloc(L.span + 4 * room);
      if (p === null) throw new KvmError(`${req.name} (malloc)`, c.errno, c.errname());
      const hdr = new Uint8Array(L.span);
      new DataView(hdr.buffer).setUint32(0, room, true);
      c.poke(p, hdr);
      let err = 0;
      if ((await c.ioctl(this.fd, req, p)) < 0) err = c.errno;
      else if (freebsd) err = c.load(uapi.kvm_freebsd_msr_list_layout, p).error;
      const n = c.peek32(p);
      const errname = c.abi.errno_names[err] ?? `errno ${err}`;
      if (err === 0) return Array.from({ length: n }, (_, i) => c.peek32(uva(p + L.span + 4 * i)));
      if (errname !== "E2BIG" || attempt > 0) throw new KvmError(req.name, err, errname);
      room = n;
    }
    throw new KvmError(req.name, 0, "E2BIG");
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

  /** mmap(vm_fd, offset = guest_phys_addr): the pages of a KVM_SET_MEMORY_REGION slot
   *  (through KVM_FREEBSD_MMAP where mmap(2) of the fd fails with ENODEV). */
  async mmap_guest_memory(guest_phys_addr: number, size: number): Promise<Uva> {
    return map_kvm_fd(this.c, this.fd, guest_phys_addr, size, "vm fd", this.kvm.note);
  }

  async create_vcpu(id: number): Promise<VcpuFd> {
    const fd = await check(this.c, "KVM_CREATE_VCPU", await this.c.ioctl(this.fd, uapi.KVM_CREATE_VCPU, id));
    const size = await this.kvm.get_vcpu_mmap_size();
    const run = await map_kvm_fd(this.c, fd, 0, size, "vcpu fd", this.kvm.note);
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
