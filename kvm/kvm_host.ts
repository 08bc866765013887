// drivers/kvm/kvm.h (2.6.21) / include/linux/kvm_host.h: the driver's structures.
//
// Locking (as in the 2007 driver):
//   kvm.lock (spinlock) protects the memory-slot array and the shadow MMU of the VM;
//   kvm_vcpu.mutex serialises ioctls on one vcpu (KVM_RUN vs KVM_GET_REGS ...);
//   the module's vm_list is protected by kvm_lock.
// Structure fields live in TypeScript objects; the memory for each structure is
// allocated from the kernel (kzalloc of its C size) so that allocation failure, OOM
// and leaks behave as they do in C.

import type { Kva, Pfn, Uva } from "../compat/linux/types.js";
import type { file } from "../compat/linux/fs_types.js";
import type { page } from "../compat/linux/mm_types.js";
import type { mm_struct } from "../compat/linux/mm_struct.js";
import type { dentry } from "../compat/linux/debugfs_types.js";
import { mutex } from "../compat/linux/lock_types.js";
import { spinlock_t } from "../compat/linux/lock_types.js";
import type { pio_pending } from "./pio.js";

export const KVM_MAX_VCPUS = 16;
export const KVM_MEMORY_SLOTS = 32;
/** Size of the vcpu fd mapping: the kvm_run page and the PIO data page. */
export const KVM_VCPU_MMAP_PAGES = 2;

export interface kvm_memory_slot {
  id: number;
  base_gfn: number;
  npages: number;
  flags: number;
  /** KVM_SET_USER_MEMORY_REGION: the caller's memory. */
  userspace_addr: Uva | null;
  /** KVM_SET_MEMORY_REGION: pages the kernel allocated (zeroed); for user memory, the
   *  pages pinned by get_user_pages as the guest first touches them. */
  phys_mem: (page | null)[];
  /** Kernel-allocated pages belong to the slot; pinned user pages only hold a reference. */
  kernel_owned: boolean;
  /** With KVM_MEM_LOG_DIRTY_PAGES: one bit per page (bit 0 = first page), in
   *  ALIGN(npages, 64) / 8 bytes. Protected by kvm.lock. */
  dirty_bitmap: Uint8Array | null;
}

export interface kvm_stat_counters {
  pf_fixed: number;
  pf_guest: number;
  tlb_flush: number;
  invlpg: number;
  exits: number;
  io_exits: number;
  mmio_exits: number;
  signal_exits: number;
  irq_window_exits: number;
  halt_exits: number;
  request_irq_exits: number;
  irq_exits: number;
  /** Shadow pages zapped because the guest kept writing them with no fault using them in
   *  between (detect_write_flooding: it reuses the page as data). */
  mmu_flooded: number;
}

export const new_kvm_stat = (): kvm_stat_counters => ({
  pf_fixed: 0, pf_guest: 0, tlb_flush: 0, invlpg: 0, exits: 0, io_exits: 0, mmio_exits: 0,
  signal_exits: 0, irq_window_exits: 0, halt_exits: 0, request_irq_exits: 0, irq_exits: 0, mmu_flooded: 0,
});

/** One shadow page-table page: a host frame from alloc_page() holding 1024 32-bit
 *  entries, or 512 64-bit (PAE) entries, that the CPU's MMU walks in VMX non-root operation. */
export interface kvm_mmu_page {
  page: page;
  kva: Kva;
  pfn: Pfn;
  /** Level in the 2-level 32-bit format: 2 = page directory (root), 1 = page table; in
   *  the PAE format (`pae`): 3 = PDPT (root), 2 = page directory, 1 = page table;
   *  with two-dimensional paging (kvm.tdp), 4 = EPT PML4 (root) .. 1 = EPT page table. */
  level: number;
  /** A PAE-format shadow page (8-byte entries). */
  pae?: boolean;
  /** Guest writes to the shadowed frame since a fault last used this page (mmu.ts). */
  write_flooding_count?: number;
  /** Shadow-page cache (mmu.ts): the guest frame this page shadows (the guest page
   *  directory for a root, the guest page table for a level-1 page) and its role. */
  gfn?: number;
  role?: number;
  /** In the cache's hash (kept across CR3 loads, its guest frame write-protected); a page
   *  outside it is transient: freed at the next CR3 load, as every page was before the cache. */
  cached?: boolean;
  /** Kernel addresses of the shadow PDEs that point at this page. */
  parents?: Set<number>;
}

export interface kvm_mmu {
  root: kvm_mmu_page | null;
  /** Every shadow page of this vcpu's MMU, freed on reset and destroy. */
  pages: kvm_mmu_page[];
  /** The shadow-page cache's indexes (mmu.ts), created on first use. */
  cache?: shadow_page_cache;
  /** A PAE guest's PDPTRs (low dwords) as loaded with CR3, or null: load at the next walk
   *  (paging_tmpl.ts). */
  pdptrs: number[] | null;
}

/** Protected by kvm.lock, like the shadow pages. */
export interface shadow_page_cache {
  /** Cached pages by "gfn:level:role". */
  hash: Map<string, kvm_mmu_page>;
  /** Cached pages by guest frame. */
  by_gfn: Map<number, Set<kvm_mmu_page>>;
  /** Every shadow page (cached or not) by host frame: a shadow PDE's target. */
  by_pfn: Map<number, kvm_mmu_page>;
  /** Reverse map: guest frame -> kernel addresses of the leaf shadow PTEs that map it. */
  rmap: Map<number, Set<number>>;
  /** Leaf shadow PTE address -> the guest frame it maps. */
  spte_gfn: Map<number, number>;
}

export interface kvm {
  /** kzalloc'ed storage of struct kvm. */
  readonly self: Kva;
  readonly lock: spinlock_t;
  /** Serialises memory-slot updates (slots_lock in later kernels). */
  readonly slots_lock: mutex;
  nmemslots: number;
  readonly memslots: (kvm_memory_slot | null)[];
  readonly vcpus: (kvm_vcpu | null)[];
  online_vcpus: number;
  /** The process that created the VM; ioctls from another mm are refused (-EIO). */
  readonly mm: mm_struct | null;
  readonly stat: kvm_stat_counters;
  /** The shadow-page cache's counters (mmu.ts), created on first use. Linux counts
   *  mmu_cache_miss, mmu_shadow_zapped and mmu_pte_write in kvm_stat; hits are this
   *  model's addition, for the reuse rate. */
  mmu_cache_stat?: { hit: number; miss: number; zapped: number; pte_write: number };
  users_count: number;
  /** Two-dimensional paging (EPT) instead of shadow paging: the kvm module parameter
   *  enable_ept when the VM was created, if the CPU has EPT and unrestricted guest.
   *  vcpu.mmu then holds the EPT tables (mmu_tdp.ts). Fixed for the VM's lifetime. */
  readonly tdp: boolean;
  /** debugfs "<pid>-<fd>" with this VM's counters (kvm_stat.ts), or null. */
  debugfs_dentry: dentry | null;
}

export interface kvm_vcpu {
  readonly self: Kva;
  readonly kvm: kvm;
  readonly vcpu_id: number;
  readonly mutex: mutex;
  /** CPU whose VMCS cache holds this vcpu's VMCS, or -1. */
  cpu: number;
  launched: boolean;
  /** The kvm_run page and the PIO data page, shared with userspace by mmap. */
  readonly run_page: page;
  readonly run: Kva;
  readonly pio_page: page;
  readonly pio_data: Kva;
  /** VMCS region (a zeroed page with the revision id). */
  readonly vmcs_page: page;
  /** Guest state the VMCS does not hold (vcpu->regs[] and cr2 in the 2007 driver). */
  readonly regs: Uint32Array;
  cr2: number;
  /** Guest-visible CR0/CR4 (the VMCS holds what the hardware uses). */
  cr0: number;
  cr4: number;
  cr3: number;
  efer: bigint;
  apic_base: bigint;
  readonly mmu: kvm_mmu;
  /** Interrupts queued by KVM_INTERRUPT, one bit per vector (irq_pending in 2007). */
  readonly irq_pending: Uint32Array;
  /** KVM_SET_GUEST_DEBUG control word (KVM_GUESTDBG_*). */
  guest_debug: number;
  /** The guest's own DR0-DR3, DR6 and DR7 (vcpu->arch.db, dr6, dr7). */
  readonly db: number[];
  dr6: number;
  dr7: number;
  /** DR0-DR3 the CPU runs the guest with: the debugger's under KVM_GUESTDBG_USE_HW_BP,
   *  else the guest's (vcpu->arch.eff_db); the debugger's DR7 (guest_debug_dr7). */
  readonly eff_db: number[];
  guest_debug_dr7: number;
  /** Emulated MSRs without a VMCS field. */
  misc_enable: bigint;
  tsc_offset: bigint;
  /** A PIO exit whose completion (IN data into RAX) waits for the next KVM_RUN. */
  pio_pending: pio_pending | null;
  /** The file behind the vcpu fd (for the vm's reference count). */
  filp: file | null;
}
