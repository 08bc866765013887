// include/uapi/linux/kvm.h (API version 12, x86_64 layouts): the contract between the
// KVM driver and its userspace. The kernel (kvm/) and the VMM (userspace/) both use
// this one description. Ioctls are declared by (dir, type, nr, size); Linux encodes
// them with asm-generic/ioctl.h, a FreeBSD build with sys/ioccom.h.

import { _IO, _IOR, _IOW, _IOWR, type IoctlDef } from "../asm-generic/ioctl.js";
import { Structure, pad, seq, struct, u16, u32, u64, u8 } from "../struct_layout.js";

export const KVM_API_VERSION = 12;
export const KVMIO = 0xae;

// --- structures -----------------------------------------------------------------------

export interface kvm_regs {
  rax: bigint; rbx: bigint; rcx: bigint; rdx: bigint; rsi: bigint; rdi: bigint; rsp: bigint; rbp: bigint;
  r8: bigint; r9: bigint; r10: bigint; r11: bigint; r12: bigint; r13: bigint; r14: bigint; r15: bigint;
  rip: bigint; rflags: bigint;
}
export const KVM_REGS_FIELDS = [
  "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags",
] as const;
export const kvm_regs_layout: Structure<kvm_regs> = struct<kvm_regs>(KVM_REGS_FIELDS.map((f) => u64(f)) as never);

export interface kvm_segment {
  base: bigint; limit: number; selector: number; type: number;
  present: number; dpl: number; db: number; s: number; l: number; g: number; avl: number;
  unusable: number; padding: number;
}
export const kvm_segment_layout: Structure<kvm_segment> = struct<kvm_segment>([
  u64("base"), u32("limit"), u16("selector"), u8("type"),
  u8("present"), u8("dpl"), u8("db"), u8("s"), u8("l"), u8("g"), u8("avl"), u8("unusable"), u8("padding"),
] as never);

export interface kvm_dtable { base: bigint; limit: number; padding: Uint8Array }
export const kvm_dtable_layout: Structure<kvm_dtable> = struct<kvm_dtable>([u64("base"), u16("limit"), pad(6, "padding")] as never);

export const KVM_NR_INTERRUPTS = 256;
export interface kvm_sregs {
  cs: kvm_segment; ds: kvm_segment; es: kvm_segment; fs: kvm_segment; gs: kvm_segment; ss: kvm_segment;
  tr: kvm_segment; ldt: kvm_segment; gdt: kvm_dtable; idt: kvm_dtable;
  cr0: bigint; cr2: bigint; cr3: bigint; cr4: bigint; cr8: bigint; efer: bigint; apic_base: bigint;
  interrupt_bitmap: bigint[];
}
export const kvm_sregs_layout: Structure<kvm_sregs> = struct<kvm_sregs>([
  ...["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"].map((n) => kvm_segment_layout.replicate(n)),
  kvm_dtable_layout.replicate("gdt"), kvm_dtable_layout.replicate("idt"),
  u64("cr0"), u64("cr2"), u64("cr3"), u64("cr4"), u64("cr8"), u64("efer"), u64("apic_base"),
  seq(u64(), Math.floor((KVM_NR_INTERRUPTS + 63) / 64), "interrupt_bitmap"),
] as never);

export interface kvm_memory_region { slot: number; flags: number; guest_phys_addr: bigint; memory_size: bigint }
export const kvm_memory_region_layout: Structure<kvm_memory_region> = struct<kvm_memory_region>([
  u32("slot"), u32("flags"), u64("guest_phys_addr"), u64("memory_size"),
] as never);

export interface kvm_userspace_memory_region extends kvm_memory_region { userspace_addr: bigint }
export const kvm_userspace_memory_region_layout: Structure<kvm_userspace_memory_region> = struct<kvm_userspace_memory_region>([
  u32("slot"), u32("flags"), u64("guest_phys_addr"), u64("memory_size"), u64("userspace_addr"),
] as never);

export const KVM_MEM_LOG_DIRTY_PAGES = 1 << 0;
export const KVM_MEM_READONLY = 1 << 1;

/** struct kvm_run: the page shared by a vcpu with userspace through mmap of the vcpu fd.
 *  The exit-specific union starts at KVM_RUN_EXIT_UNION. */
export interface kvm_run_header {
  request_interrupt_window: number; immediate_exit: number; padding1: Uint8Array;
  exit_reason: number; ready_for_interrupt_injection: number; if_flag: number; flags: number;
  cr8: bigint; apic_base: bigint;
}
export const kvm_run_header_layout: Structure<kvm_run_header> = struct<kvm_run_header>([
  u8("request_interrupt_window"), u8("immediate_exit"), pad(6, "padding1"),
  u32("exit_reason"), u8("ready_for_interrupt_injection"), u8("if_flag"), u16("flags"),
  u64("cr8"), u64("apic_base"),
] as never);
export const KVM_RUN_EXIT_UNION = 32;
/** Size of struct kvm_run in Linux 6.x: header, 256-byte exit union, kvm_valid_regs,
 *  kvm_dirty_regs, and the 2048-byte synced-register union. */
export const KVM_RUN_SIZE = 2352;
export const KVM_RUN_OFFSETS = { kvm_valid_regs: 288, kvm_dirty_regs: 296, s: 304 } as const;

/** kvm_run.io (KVM_EXIT_IO); the data is in the vcpu mapping at data_offset. */
export interface kvm_run_io { direction: number; size: number; port: number; count: number; data_offset: bigint }
export const kvm_run_io_layout: Structure<kvm_run_io> = struct<kvm_run_io>([
  u8("direction"), u8("size"), u16("port"), u32("count"), u64("data_offset"),
] as never);
export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

/** kvm_run.mmio (KVM_EXIT_MMIO). */
export interface kvm_run_mmio { phys_addr: bigint; data: Uint8Array; len: number; is_write: number }
export const kvm_run_mmio_layout: Structure<kvm_run_mmio> = struct<kvm_run_mmio>([
  u64("phys_addr"), pad(8, "data"), u32("len"), u8("is_write"),
] as never);

/** kvm_run.ex (KVM_EXIT_EXCEPTION). */
export interface kvm_run_ex { exception: number; error_code: number }
export const kvm_run_ex_layout: Structure<kvm_run_ex> = struct<kvm_run_ex>([u32("exception"), u32("error_code")] as never);

/** kvm_run.fail_entry (KVM_EXIT_FAIL_ENTRY). */
export interface kvm_run_fail_entry { hardware_entry_failure_reason: bigint; cpu: number }
export const kvm_run_fail_entry_layout: Structure<kvm_run_fail_entry> = struct<kvm_run_fail_entry>([
  u64("hardware_entry_failure_reason"), u32("cpu"),
] as never);

/** kvm_run.internal (KVM_EXIT_INTERNAL_ERROR). */
export interface kvm_run_internal { suberror: number; ndata: number }
export const kvm_run_internal_layout: Structure<kvm_run_internal> = struct<kvm_run_internal>([u32("suberror"), u32("ndata")] as never);
export const KVM_INTERNAL_ERROR_EMULATION = 1;

/** kvm_run.debug.arch (KVM_EXIT_DEBUG) on x86. */
export interface kvm_debug_exit_arch { exception: number; pad: number; pc: bigint; dr6: bigint; dr7: bigint }
export const kvm_debug_exit_arch_layout: Structure<kvm_debug_exit_arch> = struct<kvm_debug_exit_arch>([
  u32("exception"), u32("pad"), u64("pc"), u64("dr6"), u64("dr7"),
] as never);

export interface kvm_interrupt { irq: number }
export const kvm_interrupt_layout: Structure<kvm_interrupt> = struct<kvm_interrupt>([u32("irq")] as never);

export interface kvm_translation {
  linear_address: bigint; physical_address: bigint; valid: number; writeable: number; usermode: number; pad: Uint8Array;
}
export const kvm_translation_layout: Structure<kvm_translation> = struct<kvm_translation>([
  u64("linear_address"), u64("physical_address"), u8("valid"), u8("writeable"), u8("usermode"), pad(5, "pad"),
] as never);

export interface kvm_dirty_log { slot: number; padding1: number; dirty_bitmap: bigint }
export const kvm_dirty_log_layout: Structure<kvm_dirty_log> = struct<kvm_dirty_log>([
  u32("slot"), u32("padding1"), u64("dirty_bitmap"),
] as never);

export interface kvm_msrs_header { nmsrs: number; pad: number }
export const kvm_msrs_layout: Structure<kvm_msrs_header> = struct<kvm_msrs_header>([u32("nmsrs"), u32("pad")] as never);
export interface kvm_msr_entry { index: number; reserved: number; data: bigint }
export const kvm_msr_entry_layout: Structure<kvm_msr_entry> = struct<kvm_msr_entry>([
  u32("index"), u32("reserved"), u64("data"),
] as never);
export interface kvm_msr_list_header { nmsrs: number }
export const kvm_msr_list_layout: Structure<kvm_msr_list_header> = struct<kvm_msr_list_header>([u32("nmsrs")] as never);

export interface kvm_guest_debug { control: number; pad: number; debugreg: bigint[] }
export const kvm_guest_debug_layout: Structure<kvm_guest_debug> = struct<kvm_guest_debug>([
  u32("control"), u32("pad"), seq(u64(), 8, "debugreg"),
] as never);
export const KVM_GUESTDBG_ENABLE = 0x1;
export const KVM_GUESTDBG_SINGLESTEP = 0x2;
export const KVM_GUESTDBG_USE_SW_BP = 0x10000;
export const KVM_GUESTDBG_USE_HW_BP = 0x20000;

// --- exit reasons ---------------------------------------------------------------------

export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_EXCEPTION = 1;
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HYPERCALL = 3;
export const KVM_EXIT_DEBUG = 4;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_IRQ_WINDOW_OPEN = 7;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_INTERNAL_ERROR = 17;

export const KVM_EXIT_NAMES: Record<number, string> = {
  0: "KVM_EXIT_UNKNOWN", 1: "KVM_EXIT_EXCEPTION", 2: "KVM_EXIT_IO", 3: "KVM_EXIT_HYPERCALL",
  4: "KVM_EXIT_DEBUG", 5: "KVM_EXIT_HLT", 6: "KVM_EXIT_MMIO", 7: "KVM_EXIT_IRQ_WINDOW_OPEN",
  8: "KVM_EXIT_SHUTDOWN", 9: "KVM_EXIT_FAIL_ENTRY", 10: "KVM_EXIT_INTR", 17: "KVM_EXIT_INTERNAL_ERROR",
};

// --- capabilities (KVM_CHECK_EXTENSION) -----------------------------------------------

export const KVM_CAP_IRQCHIP = 0;
export const KVM_CAP_HLT = 1;
export const KVM_CAP_MMU_SHADOW_CACHE_CONTROL = 2;
export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_SET_TSS_ADDR = 4;
export const KVM_CAP_NR_VCPUS = 9;
export const KVM_CAP_NR_MEMSLOTS = 10;
export const KVM_CAP_DESTROY_MEMORY_REGION_WORKS = 21;
export const KVM_CAP_SET_GUEST_DEBUG = 23;
export const KVM_CAP_JOIN_MEMORY_REGIONS_WORKS = 30;
export const KVM_CAP_INTERNAL_ERROR_DATA = 40;
export const KVM_CAP_MAX_VCPUS = 66;
export const KVM_CAP_READONLY_MEM = 81;
export const KVM_CAP_MAX_VCPU_ID = 128;
export const KVM_CAP_IMMEDIATE_EXIT = 136;

/** Offset, in pages, of the PIO data page in the vcpu mapping (KVM_PIO_PAGE_OFFSET). */
export const KVM_PIO_PAGE_OFFSET = 1;

// --- ioctls ----------------------------------------------------------------------------

// System ioctls (/dev/kvm).
export const KVM_GET_API_VERSION = _IO("KVM_GET_API_VERSION", KVMIO, 0x00);
export const KVM_CREATE_VM = _IO("KVM_CREATE_VM", KVMIO, 0x01);
export const KVM_GET_MSR_INDEX_LIST = _IOWR("KVM_GET_MSR_INDEX_LIST", KVMIO, 0x02, kvm_msr_list_layout.span);
export const KVM_CHECK_EXTENSION = _IO("KVM_CHECK_EXTENSION", KVMIO, 0x03);
export const KVM_GET_VCPU_MMAP_SIZE = _IO("KVM_GET_VCPU_MMAP_SIZE", KVMIO, 0x04);
// VM ioctls.
export const KVM_SET_MEMORY_REGION = _IOW("KVM_SET_MEMORY_REGION", KVMIO, 0x40, kvm_memory_region_layout.span);
export const KVM_CREATE_VCPU = _IO("KVM_CREATE_VCPU", KVMIO, 0x41);
export const KVM_GET_DIRTY_LOG = _IOW("KVM_GET_DIRTY_LOG", KVMIO, 0x42, kvm_dirty_log_layout.span);
export const KVM_SET_USER_MEMORY_REGION = _IOW(
  "KVM_SET_USER_MEMORY_REGION", KVMIO, 0x46, kvm_userspace_memory_region_layout.span,
);
// vcpu ioctls.
export const KVM_RUN = _IO("KVM_RUN", KVMIO, 0x80);
export const KVM_GET_REGS = _IOR("KVM_GET_REGS", KVMIO, 0x81, kvm_regs_layout.span);
export const KVM_SET_REGS = _IOW("KVM_SET_REGS", KVMIO, 0x82, kvm_regs_layout.span);
export const KVM_GET_SREGS = _IOR("KVM_GET_SREGS", KVMIO, 0x83, kvm_sregs_layout.span);
export const KVM_SET_SREGS = _IOW("KVM_SET_SREGS", KVMIO, 0x84, kvm_sregs_layout.span);
export const KVM_TRANSLATE = _IOWR("KVM_TRANSLATE", KVMIO, 0x85, kvm_translation_layout.span);
export const KVM_INTERRUPT = _IOW("KVM_INTERRUPT", KVMIO, 0x86, kvm_interrupt_layout.span);
export const KVM_GET_MSRS = _IOWR("KVM_GET_MSRS", KVMIO, 0x88, kvm_msrs_layout.span);
export const KVM_SET_MSRS = _IOW("KVM_SET_MSRS", KVMIO, 0x89, kvm_msrs_layout.span);
export const KVM_SET_GUEST_DEBUG = _IOW("KVM_SET_GUEST_DEBUG", KVMIO, 0x9b, kvm_guest_debug_layout.span);

export const KVM_IOCTLS: readonly IoctlDef[] = [
  KVM_GET_API_VERSION, KVM_CREATE_VM, KVM_GET_MSR_INDEX_LIST, KVM_CHECK_EXTENSION, KVM_GET_VCPU_MMAP_SIZE,
  KVM_SET_MEMORY_REGION, KVM_CREATE_VCPU, KVM_GET_DIRTY_LOG, KVM_SET_USER_MEMORY_REGION,
  KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_TRANSLATE, KVM_INTERRUPT,
  KVM_GET_MSRS, KVM_SET_MSRS, KVM_SET_GUEST_DEBUG,
];

// --- linux-kmod-compat 2007 additions (not in Linux) ----------------------------------
//
// The 2007 FreeBSD port changed two parts of this API (seed 000, "Implement the mmap()
// on the VM file descriptor as an ioctl()", Aug 7 2007, and "Change kernel interface of
// KVM_GET_MSR_INDEX_LIST ioctl()", Jul 7 2007). The log gives neither names, numbers
// nor layouts: those below are lkvm's reconstruction. The numbers lie outside the nrs
// Linux's KVMIO uses, and the commands are not in KVM_IOCTLS (which is checked against
// the real header).

/** KVM_FREEBSD_MMAP: mmap(2) of the fd as an ioctl. On a VM fd, `offset` is the
 *  guest-physical address of KVM_SET_MEMORY_REGION memory (as mmap's offset was); on a
 *  vcpu fd, the offset in the vcpu mapping (0: kvm_run). The kernel maps `size` bytes
 *  shared, read/write, every page entered at once, and returns the user address in
 *  `addr`. */
export interface kvm_freebsd_mmap { offset: bigint; size: bigint; addr: bigint }
export const kvm_freebsd_mmap_layout: Structure<kvm_freebsd_mmap> = struct<kvm_freebsd_mmap>([
  u64("offset"), u64("size"), u64("addr"),
] as never);

/** KVM_FREEBSD_GET_MSR_INDEX_LIST: KVM_GET_MSR_INDEX_LIST with kvm's error in `error`
 *  (a positive errno, 0 on success) and the ioctl itself returning 0, so that FreeBSD's
 *  sys_ioctl copies nmsrs back even when the list did not fit (E2BIG). The indices
 *  follow the 8-byte header. */
export interface kvm_freebsd_msr_list_header { nmsrs: number; error: number }
export const kvm_freebsd_msr_list_layout: Structure<kvm_freebsd_msr_list_header> = struct<kvm_freebsd_msr_list_header>([
  u32("nmsrs"), u32("error"),
] as never);

export const KVM_FREEBSD_MMAP = _IOWR("KVM_FREEBSD_MMAP", KVMIO, 0xf8, kvm_freebsd_mmap_layout.span);
export const KVM_FREEBSD_GET_MSR_INDEX_LIST = _IOWR("KVM_FREEBSD_GET_MSR_INDEX_LIST", KVMIO, 0xf9, kvm_freebsd_msr_list_layout.span);

export const KVM_FREEBSD_2007_IOCTLS: readonly IoctlDef[] = [KVM_FREEBSD_MMAP, KVM_FREEBSD_GET_MSR_INDEX_LIST];
