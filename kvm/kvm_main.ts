// drivers/kvm/kvm_main.c (virt/kvm/kvm_main.c): /dev/kvm, the VM and vcpu file
// descriptors, memory slots. Written only against the Linux API in compat/linux.
//
// File descriptors and references:
//   /dev/kvm (misc device)  --KVM_CREATE_VM-->  vm fd (anon inode "kvm-vm", private_data = kvm)
//   vm fd  --KVM_CREATE_VCPU-->  vcpu fd (anon inode "kvm-vcpu", private_data = vcpu)
// Each vcpu fd holds a reference to the VM (kvm.users_count); the VM is destroyed when
// the vm fd and every vcpu fd are closed, and only then are vcpus freed.

import { E2BIG, EEXIST, EFAULT, EINVAL, EIO, ENOENT, ENOMEM, ENOTTY } from "../compat/linux/errno.js";
import { anon_inode_getfd } from "../compat/linux/anon_inodes.js";
import { O_CLOEXEC, O_RDWR, type file, type file_operations, type inode } from "../compat/linux/fs.js";
import { __GFP_ZERO, GFP_KERNEL, __free_page, alloc_page } from "../compat/linux/gfp.js";
import { _IOC_NR, _IOC_TYPE, linux_ioctl } from "../compat/linux/ioctl.js";
import { KVM_MINOR, misc_register, misc_deregister, type miscdevice } from "../compat/linux/miscdevice.js";
import { page_address, vm_mmap, vm_munmap, VM_FAULT_SIGBUS, type vm_area_struct, type vm_fault } from "../compat/linux/mm.js";
import { MAP_SHARED, PROT_READ, PROT_WRITE } from "../compat/linux/mman.js";
import { mutex, mutex_destroy, mutex_init, mutex_lock, mutex_lock_interruptible, mutex_unlock } from "../compat/linux/mutex.js";
import { pr_debug, pr_err, pr_info } from "../compat/linux/printk.js";
import { get_current } from "../compat/linux/sched.js";
import { kfree, kzalloc } from "../compat/linux/slab.js";
import { spin_lock, spin_lock_init, spin_unlock, spinlock_t } from "../compat/linux/spinlock.js";
import { kvm_globals } from "./kvm_globals.js";
import { kvm_create_vm_debugfs, kvm_destroy_vm_debugfs, kvm_exit_debug, kvm_init_debug } from "./kvm_stat.js";
import { copy_from_user, copy_to_user } from "../compat/linux/uaccess.js";
import { PAGE_SIZE, uva, type Uva } from "../compat/linux/types.js";
import { cpu_has_vmx } from "../compat/linux/asm/processor.js";
import { DR6_ACTIVE_LOW, DR7_FIXED_1 } from "../compat/linux/asm/debugreg.js";
import * as uapi from "../include/uapi/linux/kvm.js";
import { encode } from "../include/uapi/struct_layout.js";
import {
  KVM_MAX_VCPUS, KVM_MEMORY_SLOTS, KVM_VCPU_MMAP_PAGES, new_kvm_stat, type kvm, type kvm_memory_slot, type kvm_vcpu,
} from "./kvm_host.js";
import { kvm_free_physmem_slot, kvm_mmu_gva_to_gpa, kvm_mmu_zap_all, mmu_pin_gfn } from "./mmu.js";
import { msrs_to_save, vmx_get_msr, vmx_set_msr } from "./x86_msr.js";
import { cpu_has_vmx_ept, cpu_has_vmx_unrestricted_guest } from "./mmu_tdp.js";
import {
  alloc_vmcs, kvm_queue_interrupt, kvm_update_dr7, vmx_get_regs, vmx_update_exception_bitmap, vmx_get_sregs, vmx_hardware_disable_all, vmx_hardware_enable_all, vmx_set_regs,
  vmx_set_sregs, vmx_vcpu_decache, vmx_vcpu_free, vmx_vcpu_load, vmx_vcpu_put, vmx_vcpu_run, vmx_vcpu_setup,
} from "./vmx.js";

/** sizeof the C structures whose storage is allocated from the kernel. */
const SIZEOF_STRUCT_KVM = 4096;
const SIZEOF_STRUCT_KVM_VCPU = 1024;

/** Linux ioctl numbers, computed once from the uapi descriptions (Linux's and the 2007
 *  port's additions). */
const IOC = Object.fromEntries([...uapi.KVM_IOCTLS, ...uapi.KVM_FREEBSD_2007_IOCTLS].map((d) => [d.name, linux_ioctl(d)])) as Record<string, number>;

const efault = (left: number) => (left !== 0 ? -EFAULT : 0);

// --- /dev/kvm -----------------------------------------------------------------------------

async function kvm_dev_ioctl(_filp: file, cmd: number, arg: number): Promise<number> {
  switch (cmd) {
    case IOC.KVM_GET_API_VERSION:
      if (arg !== 0) return -EINVAL;
      return uapi.KVM_API_VERSION;
    case IOC.KVM_CREATE_VM:
      if (arg !== 0) return -EINVAL; // only the default machine type
      return kvm_dev_ioctl_create_vm();
    case IOC.KVM_CHECK_EXTENSION:
      return kvm_vm_ioctl_check_extension(arg);
    case IOC.KVM_GET_VCPU_MMAP_SIZE:
      if (arg !== 0) return -EINVAL;
      return KVM_VCPU_MMAP_PAGES * PAGE_SIZE;
    case IOC.KVM_GET_MSR_INDEX_LIST:
      return kvm_dev_ioctl_get_msr_index_list(uva(arg), uva(arg + uapi.kvm_msr_list_layout.span));
    case IOC.KVM_FREEBSD_GET_MSR_INDEX_LIST:
      return kvm_freebsd_get_msr_index_list(uva(arg));
    default:
      return -ENOTTY;
  }
}

/** KVM_GET_MSR_INDEX_LIST: nmsrs is written back with the real count; then E2BIG if
 *  the caller's array is too small. (A result to copy out together with an error: on
 *  FreeBSD, sys_ioctl copies IOC_OUT data only on success, which is the 2007 port's
 *  problem with this ioctl.) */
async function kvm_dev_ioctl_get_msr_index_list(nmsrs_p: Uva, indices_p: Uva): Promise<number> {
  const hdr = new Uint8Array(uapi.kvm_msr_list_layout.span);
  if ((await copy_from_user(hdr, nmsrs_p)) !== 0) return -EFAULT;
  const n = uapi.kvm_msr_list_layout.decode(hdr).nmsrs;
  if ((await copy_to_user(nmsrs_p, encode(uapi.kvm_msr_list_layout, { nmsrs: msrs_to_save.length }))) !== 0) return -EFAULT;
  if (n < msrs_to_save.length) return -E2BIG;
  const list = new Uint8Array(4 * msrs_to_save.length);
  msrs_to_save.forEach((m, i) => new DataView(list.buffer).setUint32(4 * i, m, true));
  return efault(await copy_to_user(indices_p, list));
}

/** KVM_FREEBSD_GET_MSR_INDEX_LIST (the 2007 port's interface, not in Linux): the same
 *  list, but kvm's error goes into the argument's `error` field and the ioctl returns
 *  0, so that kern_ioctl succeeds and sys_ioctl copies nmsrs out ("That needs
 *  kern_ioctl() to return 0, so the KVM error is passed through a field of the
 *  argument structure", Jul 7 2007). Only an unreadable or unwritable header fails
 *  the ioctl itself. */
async function kvm_freebsd_get_msr_index_list(argp: Uva): Promise<number> {
  const L = uapi.kvm_freebsd_msr_list_layout;
  const r = await kvm_dev_ioctl_get_msr_index_list(argp, uva(argp + L.span));
  // kvm's errno as a positive number: E2BIG and EFAULT are 7 and 14 on both systems.
  const error = new Uint8Array(4);
  new DataView(error.buffer).setUint32(0, r < 0 ? -r : 0, true);
  return efault(await copy_to_user(uva(argp + L.offsetOf("error")!), error));
}

function kvm_vm_ioctl_check_extension(ext: number): number {
  switch (ext) {
    case uapi.KVM_CAP_USER_MEMORY:
    case uapi.KVM_CAP_DESTROY_MEMORY_REGION_WORKS:
    case uapi.KVM_CAP_JOIN_MEMORY_REGIONS_WORKS:
    case uapi.KVM_CAP_IMMEDIATE_EXIT:
    case uapi.KVM_CAP_READONLY_MEM:
      return 1;
    case uapi.KVM_CAP_NR_VCPUS:
    case uapi.KVM_CAP_MAX_VCPUS:
    case uapi.KVM_CAP_MAX_VCPU_ID:
      return KVM_MAX_VCPUS;
    case uapi.KVM_CAP_NR_MEMSLOTS:
      return KVM_MEMORY_SLOTS;
    default:
      return 0;
  }
}

async function kvm_dev_ioctl_create_vm(): Promise<number> {
  const self = await kzalloc(SIZEOF_STRUCT_KVM, GFP_KERNEL);
  if (self === null) return -ENOMEM;
  const lock = new spinlock_t();
  spin_lock_init(lock, "kvm->lock");
  const slots_lock = new mutex();
  mutex_init(slots_lock, "kvm->slots_lock");
  const kvm: kvm = {
    self, lock, slots_lock, nmemslots: 0,
    tdp: kvm_globals().enable_ept && cpu_has_vmx_ept() && cpu_has_vmx_unrestricted_guest(),
    memslots: new Array<kvm_memory_slot | null>(KVM_MEMORY_SLOTS).fill(null),
    vcpus: new Array<kvm_vcpu | null>(KVM_MAX_VCPUS).fill(null),
    online_vcpus: 0, mm: get_current().mm, stat: new_kvm_stat(), users_count: 1, debugfs_dentry: null,
  };
  const fd = await anon_inode_getfd("kvm-vm", kvm_vm_fops, kvm, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    mutex_destroy(slots_lock);
    kfree(self);
    return fd;
  }
  const g = kvm_globals();
  await spin_lock(g.kvm_lock);
  g.vm_list.push(kvm);
  spin_unlock(g.kvm_lock);
  kvm_create_vm_debugfs(kvm, fd);
  return fd;
}

// --- VM fd --------------------------------------------------------------------------------

async function kvm_vm_ioctl(filp: file, cmd: number, arg: number): Promise<number> {
  const kvm = filp.private_data as kvm;
  if (get_current().mm !== kvm.mm) return -EIO;
  switch (cmd) {
    case IOC.KVM_SET_USER_MEMORY_REGION: {
      const b = new Uint8Array(uapi.kvm_userspace_memory_region_layout.span);
      if ((await copy_from_user(b, uva(arg))) !== 0) return -EFAULT;
      const m = uapi.kvm_userspace_memory_region_layout.decode(b);
      return kvm_set_memory_region(kvm, m, true);
    }
    case IOC.KVM_SET_MEMORY_REGION: {
      const b = new Uint8Array(uapi.kvm_memory_region_layout.span);
      if ((await copy_from_user(b, uva(arg))) !== 0) return -EFAULT;
      const m = uapi.kvm_memory_region_layout.decode(b);
      return kvm_set_memory_region(kvm, { ...m, userspace_addr: 0n }, false);
    }
    case IOC.KVM_CREATE_VCPU:
      return kvm_vm_ioctl_create_vcpu(kvm, arg);
    case IOC.KVM_GET_DIRTY_LOG:
      return kvm_vm_ioctl_get_dirty_log(kvm, uva(arg));
    case IOC.KVM_CHECK_EXTENSION:
      return kvm_vm_ioctl_check_extension(arg);
    case IOC.KVM_FREEBSD_MMAP:
      return kvm_freebsd_mmap(filp, uva(arg), "VM", (offset, size) => kvm_vm_range_is_kernel_memory(kvm, offset, size));
    default:
      return -ENOTTY;
  }
}

/**
 * KVM_FREEBSD_MMAP (the 2007 port's interface, not in Linux): mmap(2) of this fd done
 * by the kernel, for hosts where mmap(2) cannot reach the driver ("Since we cannot hook
 * the mmap() call to the open VM file descriptor we change the API adding an ioctl()
 * doing the same things", Aug 7 2007). vm_mmap goes through the fd's own ->mmap; on
 * FreeBSD the shim enters every page at once, since the frames are known now
 * ("assuming that the physical memory is not reconfigured before it is first used").
 * `valid` checks the range against what the fd can map.
 */
async function kvm_freebsd_mmap(filp: file, argp: Uva, what: string, valid: (offset: bigint, size: bigint) => Promise<boolean>): Promise<number> {
  const L = uapi.kvm_freebsd_mmap_layout;
  const b = new Uint8Array(L.span);
  if ((await copy_from_user(b, argp)) !== 0) return -EFAULT;
  const m = L.decode(b);
  const page = BigInt(PAGE_SIZE);
  if (m.size === 0n || m.size % page !== 0n || m.offset % page !== 0n || m.size > 1n << 47n || m.offset > 1n << 52n) return -EINVAL;
  if (!(await valid(m.offset, m.size))) return -EINVAL;
  const size = Number(m.size);
  const addr = await vm_mmap(filp, 0, size, PROT_READ | PROT_WRITE, MAP_SHARED, Number(m.offset));
  if (addr < 0) return addr;
  if ((await copy_to_user(argp, encode(L, { ...m, addr: BigInt(addr) }))) !== 0) {
    await vm_munmap(uva(addr), size);
    return -EFAULT;
  }
  pr_debug(`kvm: KVM_FREEBSD_MMAP: ${size / PAGE_SIZE} pages of the ${what} fd at offset 0x${m.offset.toString(16)} mapped at 0x${addr.toString(16)}`);
  return 0;
}

/** Whether [offset, offset + size) of guest-physical memory is all KVM_SET_MEMORY_REGION
 *  (kernel-allocated) memory: the pages the VM fd maps. */
async function kvm_vm_range_is_kernel_memory(kvm: kvm, offset: bigint, size: bigint): Promise<boolean> {
  const first = Number(offset / BigInt(PAGE_SIZE));
  const end = first + Number(size / BigInt(PAGE_SIZE));
  await mutex_lock(kvm.slots_lock);
  try {
    for (let gfn = first; gfn < end; ) {
      const s = kvm.memslots.find((x) => x !== null && x.kernel_owned && gfn >= x.base_gfn && gfn < x.base_gfn + x.npages);
      if (s === undefined || s === null) return false;
      gfn = s.base_gfn + s.npages;
    }
    return true;
  } finally {
    mutex_unlock(kvm.slots_lock);
  }
}

/** __kvm_set_memory_region with the checks of the reference table. */
async function kvm_set_memory_region(kvm: kvm, mem: uapi.kvm_userspace_memory_region, user: boolean): Promise<number> {
  // check_memory_region_flags: KVM_MEM_READONLY only for user memory (the 2007
  // kernel-allocated regions never had it).
  const valid_flags = uapi.KVM_MEM_LOG_DIRTY_PAGES | (user ? uapi.KVM_MEM_READONLY : 0);
  if ((mem.flags & ~valid_flags) !== 0) return -EINVAL;
  if (mem.memory_size % BigInt(PAGE_SIZE) !== 0n || mem.guest_phys_addr % BigInt(PAGE_SIZE) !== 0n) return -EINVAL;
  if (user && mem.userspace_addr % BigInt(PAGE_SIZE) !== 0n) return -EINVAL;
  if (mem.slot >= KVM_MEMORY_SLOTS) return -EINVAL;
  if (mem.guest_phys_addr + mem.memory_size < mem.guest_phys_addr || mem.guest_phys_addr + mem.memory_size > 1n << 52n) return -EINVAL;
  if (user && mem.userspace_addr + mem.memory_size > 1n << 47n) return -EINVAL;
  const npages = Number(mem.memory_size / BigInt(PAGE_SIZE));
  const base_gfn = Number(mem.guest_phys_addr / BigInt(PAGE_SIZE));

  await mutex_lock(kvm.slots_lock);
  try {
    const old = kvm.memslots[mem.slot];
    if (npages === 0) {
      if (old === null) return -EINVAL;
      await spin_lock(kvm.lock);
      kvm.memslots[mem.slot] = null;
      kvm_mmu_zap_all(kvm);
      recount_slots(kvm);
      spin_unlock(kvm.lock);
      kvm_free_physmem_slot(old);
      return 0;
    }
    if (old !== null) {
      if (old.npages !== npages) return -EINVAL;
      // Moving a slot or changing its flags cannot make it read-only or writable.
      if ((old.flags ^ mem.flags) & uapi.KVM_MEM_READONLY) return -EINVAL;
      if (old.kernel_owned === !user && old.base_gfn === base_gfn &&
          (!user || BigInt(old.userspace_addr!) === mem.userspace_addr)) {
        if (old.flags === mem.flags) return 0;
        // Only the flags change (dirty logging on or off): keep the memory.
        await spin_lock(kvm.lock);
        old.flags = mem.flags;
        old.dirty_bitmap = mem.flags & uapi.KVM_MEM_LOG_DIRTY_PAGES ? new Uint8Array(dirty_bitmap_bytes(npages)) : null;
        kvm_mmu_zap_all(kvm);
        spin_unlock(kvm.lock);
        return 0;
      }
    }
    for (let i = 0; i < KVM_MEMORY_SLOTS; i++) {
      const s = kvm.memslots[i];
      if (s === null || i === mem.slot) continue;
      if (base_gfn < s.base_gfn + s.npages && s.base_gfn < base_gfn + npages) return -EEXIST;
    }
    const slot: kvm_memory_slot = {
      id: mem.slot, base_gfn, npages, flags: mem.flags,
      userspace_addr: user ? uva(Number(mem.userspace_addr)) : null,
      phys_mem: new Array(npages).fill(null), kernel_owned: !user,
      dirty_bitmap: mem.flags & uapi.KVM_MEM_LOG_DIRTY_PAGES ? new Uint8Array(dirty_bitmap_bytes(npages)) : null,
    };
    if (!user) {
      if (old !== null && old.kernel_owned) {
        // Moving a kernel-allocated slot keeps its pages (and the guest's data).
        slot.phys_mem = old.phys_mem.slice();
        old.phys_mem.fill(null);
      } else {
        for (let i = 0; i < npages; i++) {
          const p = await alloc_page(GFP_KERNEL | __GFP_ZERO);
          if (p === null) {
            kvm_free_physmem_slot(slot);
            return -ENOMEM;
          }
          slot.phys_mem[i] = p;
        }
      }
    }
    await spin_lock(kvm.lock);
    kvm.memslots[mem.slot] = slot;
    kvm_mmu_zap_all(kvm);
    recount_slots(kvm);
    spin_unlock(kvm.lock);
    if (old !== null) kvm_free_physmem_slot(old);
    return 0;
  } finally {
    mutex_unlock(kvm.slots_lock);
  }
}

/** ALIGN(npages, BITS_PER_LONG) / 8 */
const dirty_bitmap_bytes = (npages: number) => Math.ceil(npages / 64) * 8;

/** KVM_GET_DIRTY_LOG: return the slot's bitmap and clear it, atomically with re-arming
 *  write protection (every shadow mapping is dropped, so the next write faults again). */
async function kvm_vm_ioctl_get_dirty_log(kvm: kvm, argp: Uva): Promise<number> {
  const b = new Uint8Array(uapi.kvm_dirty_log_layout.span);
  if ((await copy_from_user(b, argp)) !== 0) return -EFAULT;
  const log = uapi.kvm_dirty_log_layout.decode(b);
  if (log.slot >= KVM_MEMORY_SLOTS) return -EINVAL;
  await mutex_lock(kvm.slots_lock);
  try {
    const slot = kvm.memslots[log.slot];
    if (slot === null || slot.dirty_bitmap === null) return -ENOENT;
    await spin_lock(kvm.lock);
    const snapshot = slot.dirty_bitmap.slice();
    slot.dirty_bitmap.fill(0);
    if (snapshot.some((x) => x !== 0)) kvm_mmu_zap_all(kvm);
    spin_unlock(kvm.lock);
    return efault(await copy_to_user(uva(Number(log.dirty_bitmap)), snapshot));
  } finally {
    mutex_unlock(kvm.slots_lock);
  }
}

function recount_slots(kvm: kvm): void {
  let n = 0;
  for (let i = 0; i < KVM_MEMORY_SLOTS; i++) if (kvm.memslots[i] !== null) n = i + 1;
  kvm.nmemslots = n;
}

/** mmap of the VM fd (KVM_SET_MEMORY_REGION's pages): offset = gfn << PAGE_SHIFT. */
function kvm_vm_fault(vmf: vm_fault): number {
  const kvm = vmf.vma.vm_file.private_data as kvm;
  const gfn = vmf.pgoff;
  for (let i = 0; i < kvm.nmemslots; i++) {
    const s = kvm.memslots[i];
    if (s === null || !s.kernel_owned || gfn < s.base_gfn || gfn >= s.base_gfn + s.npages) continue;
    vmf.page = s.phys_mem[gfn - s.base_gfn];
    return 0;
  }
  return VM_FAULT_SIGBUS;
}

async function kvm_vm_mmap(_filp: file, vma: vm_area_struct): Promise<number> {
  vma.vm_ops = { fault: kvm_vm_fault };
  return 0;
}

async function kvm_vm_release(_ino: inode, filp: file): Promise<number> {
  await kvm_put_kvm(filp.private_data as kvm);
  return 0;
}

async function kvm_put_kvm(kvm: kvm): Promise<void> {
  if (--kvm.users_count > 0) return;
  const g = kvm_globals();
  await spin_lock(g.kvm_lock);
  const i = g.vm_list.indexOf(kvm);
  if (i >= 0) g.vm_list.splice(i, 1);
  spin_unlock(g.kvm_lock);
  await kvm_destroy_vm(kvm);
}

async function kvm_destroy_vm(kvm: kvm): Promise<void> {
  kvm_destroy_vm_debugfs(kvm);
  for (let i = 0; i < KVM_MAX_VCPUS; i++) {
    const vcpu = kvm.vcpus[i];
    if (vcpu === null) continue;
    await kvm_vcpu_destroy(vcpu);
    kvm.vcpus[i] = null;
  }
  for (let i = 0; i < KVM_MEMORY_SLOTS; i++) {
    const s = kvm.memslots[i];
    if (s !== null) kvm_free_physmem_slot(s);
    kvm.memslots[i] = null;
  }
  mutex_destroy(kvm.slots_lock);
  kfree(kvm.self);
}

// --- vcpus --------------------------------------------------------------------------------

async function kvm_vm_ioctl_create_vcpu(kvm: kvm, id: number): Promise<number> {
  if (id < 0 || id >= KVM_MAX_VCPUS) return -EINVAL;
  await mutex_lock(kvm.slots_lock);
  try {
    if (kvm.vcpus[id] !== null) return -EEXIST;
    const self = await kzalloc(SIZEOF_STRUCT_KVM_VCPU, GFP_KERNEL);
    if (self === null) return -ENOMEM;
    const run_page = await alloc_page(GFP_KERNEL | __GFP_ZERO);
    const pio_page = run_page && (await alloc_page(GFP_KERNEL | __GFP_ZERO));
    const vmcs_page = pio_page && (await alloc_vmcs());
    if (run_page === null || pio_page === null || vmcs_page === null) {
      for (const p of [run_page, pio_page]) if (p) __free_page(p);
      kfree(self);
      return -ENOMEM;
    }
    const m = new mutex();
    mutex_init(m, "vcpu->mutex");
    const vcpu: kvm_vcpu = {
      self, kvm, vcpu_id: id, mutex: m, cpu: -1, launched: false,
      run_page, run: page_address(run_page), pio_page, pio_data: page_address(pio_page), vmcs_page,
      regs: new Uint32Array(8), cr2: 0, cr0: 0, cr4: 0, cr3: 0, efer: 0n, apic_base: 0xfee00000n | (id === 0 ? 0x100n : 0n),
      mmu: { root: null, pages: [], pdptrs: null }, pio_pending: null, filp: null,
      irq_pending: new Uint32Array(8), guest_debug: 0, misc_enable: 1n, tsc_offset: 0n,
      db: [0, 0, 0, 0], dr6: DR6_ACTIVE_LOW, dr7: DR7_FIXED_1, eff_db: [0, 0, 0, 0], guest_debug_dr7: 0,
    };
    await vmx_vcpu_load(vcpu);
    vmx_vcpu_setup(vcpu);
    vmx_vcpu_put(vcpu);
    kvm.vcpus[id] = vcpu;
    kvm.users_count++;
    const fd = await anon_inode_getfd("kvm-vcpu", kvm_vcpu_fops, vcpu, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      kvm.vcpus[id] = null;
      kvm.users_count--;
      await kvm_vcpu_destroy(vcpu);
      return fd;
    }
    kvm.online_vcpus++;
    return fd;
  } finally {
    mutex_unlock(kvm.slots_lock);
  }
}

async function kvm_vcpu_destroy(vcpu: kvm_vcpu): Promise<void> {
  await vmx_vcpu_decache(vcpu);
  vmx_vcpu_free(vcpu);
  __free_page(vcpu.vmcs_page);
  __free_page(vcpu.run_page);
  __free_page(vcpu.pio_page);
  mutex_destroy(vcpu.mutex);
  kfree(vcpu.self);
}

async function kvm_vcpu_ioctl(filp: file, cmd: number, arg: number): Promise<number> {
  const vcpu = filp.private_data as kvm_vcpu;
  if (get_current().mm !== vcpu.kvm.mm) return -EIO;
  if (_IOC_TYPE(cmd) !== uapi.KVMIO) return -ENOTTY;
  // The vcpu mapping (kvm_run, PIO data) through the port's ioctl: lkvm's extension.
  // The log names only the VM fd; the port's kvm may have had no vcpu mapping (in the
  // 2006 patch set KVM_RUN takes struct kvm_run as its argument), but this kvm, API 12,
  // has one, and without fo_mmap it could not be reached. kvm_vcpu_mmap checks the range.
  if (cmd === IOC.KVM_FREEBSD_MMAP) return kvm_freebsd_mmap(filp, uva(arg), `vcpu ${vcpu.vcpu_id}`, async () => true);
  const r = await mutex_lock_interruptible(vcpu.mutex);
  if (r !== 0) return r;
  try {
    return await kvm_vcpu_ioctl_locked(vcpu, cmd, arg);
  } finally {
    mutex_unlock(vcpu.mutex);
  }
}

async function kvm_vcpu_ioctl_locked(vcpu: kvm_vcpu, cmd: number, arg: number): Promise<number> {
  const argp = uva(arg);
  switch (cmd) {
    case IOC.KVM_RUN:
      if (arg !== 0) return -EINVAL;
      return vmx_vcpu_run(vcpu);
    case IOC.KVM_GET_REGS: {
      await vmx_vcpu_load(vcpu);
      const r = vmx_get_regs(vcpu);
      vmx_vcpu_put(vcpu);
      const g = r.gpr;
      const regs: uapi.kvm_regs = {
        rax: BigInt(g[0]), rcx: BigInt(g[1]), rdx: BigInt(g[2]), rbx: BigInt(g[3]), rsp: BigInt(r.rsp >>> 0),
        rbp: BigInt(g[5]), rsi: BigInt(g[6]), rdi: BigInt(g[7]),
        r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n,
        rip: BigInt(r.rip >>> 0), rflags: BigInt(r.rflags >>> 0),
      };
      return efault(await copy_to_user(argp, encode(uapi.kvm_regs_layout, regs)));
    }
    case IOC.KVM_SET_REGS: {
      const b = new Uint8Array(uapi.kvm_regs_layout.span);
      if ((await copy_from_user(b, argp)) !== 0) return -EFAULT;
      const regs = uapi.kvm_regs_layout.decode(b);
      // The simulated CPU is i386-class: only the low 32 bits of rax..rdi, rsp, rip and
      // rflags exist, and r8-r15 do not (KVM_GET_REGS reports them as 0).
      const lo = (v: bigint) => Number(v & 0xffffffffn);
      const gpr = new Uint32Array([lo(regs.rax), lo(regs.rcx), lo(regs.rdx), lo(regs.rbx), 0, lo(regs.rbp), lo(regs.rsi), lo(regs.rdi)]);
      await vmx_vcpu_load(vcpu);
      vmx_set_regs(vcpu, { gpr, rip: lo(regs.rip), rsp: lo(regs.rsp), rflags: lo(regs.rflags) });
      vmx_vcpu_put(vcpu);
      return 0;
    }
    case IOC.KVM_GET_SREGS: {
      await vmx_vcpu_load(vcpu);
      const s = vmx_get_sregs(vcpu);
      vmx_vcpu_put(vcpu);
      return efault(await copy_to_user(argp, encode(uapi.kvm_sregs_layout, s)));
    }
    case IOC.KVM_SET_SREGS: {
      const b = new Uint8Array(uapi.kvm_sregs_layout.span);
      if ((await copy_from_user(b, argp)) !== 0) return -EFAULT;
      const s = uapi.kvm_sregs_layout.decode(b);
      await vmx_vcpu_load(vcpu);
      await spin_lock(vcpu.kvm.lock);
      vmx_set_sregs(vcpu, s);
      spin_unlock(vcpu.kvm.lock);
      vmx_vcpu_put(vcpu);
      return 0;
    }
    case IOC.KVM_GET_MSRS:
      return msr_io(vcpu, argp, false);
    case IOC.KVM_SET_MSRS:
      return msr_io(vcpu, argp, true);
    case IOC.KVM_TRANSLATE: {
      const b = new Uint8Array(uapi.kvm_translation_layout.span);
      if ((await copy_from_user(b, argp)) !== 0) return -EFAULT;
      const tr = uapi.kvm_translation_layout.decode(b);
      // The walk reads guest page tables; user memory behind them is pinned first, one
      // page per try (a PAE walk reads three: the PDPT, a page directory, a page table).
      let gpa: number | null = null;
      for (let tries = 0; tries < 4; tries++) {
        await spin_lock(vcpu.kvm.lock);
        const w = kvm_mmu_gva_to_gpa(vcpu, Number(tr.linear_address & 0xffffffffn));
        spin_unlock(vcpu.kvm.lock);
        if (w.kind !== "unpinned") {
          gpa = w.kind === "ok" ? w.gpa : null;
          break;
        }
        const r = await mmu_pin_gfn(vcpu.kvm, w.gfn);
        if (r < 0) return r;
      }
      // As Linux reports it: writeable = 1, usermode = 0, whatever the guest's tables say.
      tr.physical_address = gpa === null ? 0xffffffffffffffffn : BigInt(gpa);
      tr.valid = gpa === null ? 0 : 1;
      tr.writeable = 1;
      tr.usermode = 0;
      return efault(await copy_to_user(argp, encode(uapi.kvm_translation_layout, tr)));
    }
    case IOC.KVM_INTERRUPT: {
      const b = new Uint8Array(uapi.kvm_interrupt_layout.span);
      if ((await copy_from_user(b, argp)) !== 0) return -EFAULT;
      const irq = uapi.kvm_interrupt_layout.decode(b).irq;
      if (irq >= uapi.KVM_NR_INTERRUPTS) return -EINVAL;
      kvm_queue_interrupt(vcpu, irq);
      return 0;
    }
    case IOC.KVM_SET_GUEST_DEBUG: {
      const b = new Uint8Array(uapi.kvm_guest_debug_layout.span);
      if ((await copy_from_user(b, argp)) !== 0) return -EFAULT;
      const dbg = uapi.kvm_guest_debug_layout.decode(b);
      // DIVERGENCE: Linux also accepts KVM_GUESTDBG_INJECT_DB, INJECT_BP and BLOCKIRQ.
      const known = uapi.KVM_GUESTDBG_ENABLE | uapi.KVM_GUESTDBG_SINGLESTEP | uapi.KVM_GUESTDBG_USE_SW_BP | uapi.KVM_GUESTDBG_USE_HW_BP;
      if ((dbg.control & ~known) !== 0) return -EINVAL;
      // kvm_arch_vcpu_ioctl_set_guest_debug: without ENABLE nothing is in force.
      vcpu.guest_debug = (dbg.control & uapi.KVM_GUESTDBG_ENABLE) !== 0 ? dbg.control : 0;
      if ((vcpu.guest_debug & uapi.KVM_GUESTDBG_USE_HW_BP) !== 0) {
        for (let i = 0; i < 4; i++) vcpu.eff_db[i] = Number(dbg.debugreg[i] & 0xffffffffn);
        vcpu.guest_debug_dr7 = Number(dbg.debugreg[7] & 0xffffffffn);
      } else {
        for (let i = 0; i < 4; i++) vcpu.eff_db[i] = vcpu.db[i];
      }
      await vmx_vcpu_load(vcpu);
      kvm_update_dr7(vcpu);
      vmx_update_exception_bitmap(vcpu);
      vmx_vcpu_put(vcpu);
      return 0;
    }
    default:
      pr_err(`kvm: unknown vcpu ioctl 0x${cmd.toString(16)} (nr 0x${_IOC_NR(cmd).toString(16)})`);
      return -ENOTTY;
  }
}

/** Maximum entries of one KVM_GET_MSRS / KVM_SET_MSRS (MAX_IO_MSRS). */
const MAX_IO_MSRS = 256;

/** msr_io: entries follow the kvm_msrs header; returns how many were processed (it
 *  stops at the first MSR the guest CPU does not have). */
async function msr_io(vcpu: kvm_vcpu, argp: Uva, write: boolean): Promise<number> {
  const hdr = new Uint8Array(uapi.kvm_msrs_layout.span);
  if ((await copy_from_user(hdr, argp)) !== 0) return -EFAULT;
  const n = uapi.kvm_msrs_layout.decode(hdr).nmsrs;
  if (n >= MAX_IO_MSRS) return -E2BIG;
  const esz = uapi.kvm_msr_entry_layout.span;
  const entries_p = uva(argp + uapi.kvm_msrs_layout.span);
  const buf = new Uint8Array(n * esz);
  if ((await copy_from_user(buf, entries_p)) !== 0) return -EFAULT;
  let done = 0;
  await vmx_vcpu_load(vcpu);
  for (; done < n; done++) {
    const e = uapi.kvm_msr_entry_layout.decode(buf, done * esz);
    if (write) {
      if (!vmx_set_msr(vcpu, e.index, e.data)) break;
    } else {
      const v = vmx_get_msr(vcpu, e.index);
      if (v === null) break;
      uapi.kvm_msr_entry_layout.encode({ ...e, data: v }, buf, done * esz);
    }
  }
  vmx_vcpu_put(vcpu);
  if (!write && (await copy_to_user(entries_p, buf)) !== 0) return -EFAULT;
  return done;
}

/** mmap of the vcpu fd: page 0 is kvm_run, page KVM_PIO_PAGE_OFFSET the PIO data. */
function kvm_vcpu_fault(vmf: vm_fault): number {
  const vcpu = vmf.vma.vm_file.private_data as kvm_vcpu;
  if (vmf.pgoff === 0) vmf.page = vcpu.run_page;
  else if (vmf.pgoff === uapi.KVM_PIO_PAGE_OFFSET) vmf.page = vcpu.pio_page;
  else return VM_FAULT_SIGBUS;
  return 0;
}

async function kvm_vcpu_mmap(_filp: file, vma: vm_area_struct): Promise<number> {
  if (vma.vm_pgoff + (vma.vm_end - vma.vm_start) / PAGE_SIZE > KVM_VCPU_MMAP_PAGES) return -EINVAL;
  vma.vm_ops = { fault: kvm_vcpu_fault };
  return 0;
}

async function kvm_vcpu_release(_ino: inode, filp: file): Promise<number> {
  await kvm_put_kvm((filp.private_data as kvm_vcpu).kvm);
  return 0;
}

// --- file operations and module entry points --------------------------------------------

const kvm_chardev_ops: file_operations = { unlocked_ioctl: kvm_dev_ioctl, compat_ioctl: kvm_dev_ioctl };
const kvm_vm_fops: file_operations = {
  unlocked_ioctl: kvm_vm_ioctl, compat_ioctl: kvm_vm_ioctl, mmap: kvm_vm_mmap, release: kvm_vm_release,
};
const kvm_vcpu_fops: file_operations = {
  unlocked_ioctl: kvm_vcpu_ioctl, compat_ioctl: kvm_vcpu_ioctl, mmap: kvm_vcpu_mmap, release: kvm_vcpu_release,
};

/** kvm_init (vmx_init): check the CPU, enable VMX everywhere, register /dev/kvm. */
export async function kvm_init(): Promise<number> {
  if (!cpu_has_vmx()) {
    pr_err("kvm: no hardware support");
    return -EIO;
  }
  const r = await vmx_hardware_enable_all();
  if (r < 0) return r;
  kvm_init_debug();
  const misc: miscdevice = { minor: KVM_MINOR, name: "kvm", fops: kvm_chardev_ops, mode: 0o666 };
  const m = await misc_register(misc);
  if (m < 0) {
    pr_err(`kvm: misc device register failed (${m})`);
    kvm_exit_debug();
    await vmx_hardware_disable_all();
    return m;
  }
  kvm_globals().misc = misc;
  pr_info(`kvm: loaded, API version ${uapi.KVM_API_VERSION}`);
  return 0;
}

export async function kvm_exit(): Promise<void> {
  const g = kvm_globals();
  if (g.misc !== null) await misc_deregister(g.misc);
  g.misc = null;
  kvm_exit_debug();
  await vmx_hardware_disable_all();
  pr_info("kvm: unloaded");
}

/** For statistics: the VMs of the running kernel's kvm instance. */
export const kvm_vm_list = (): readonly kvm[] => kvm_globals().vm_list;
