// arch/x86/mm/fault.c: the #PF handler for accesses to user addresses (from user
// mode, or from the kernel's copy_to_user/copy_from_user). A fault inside a VMA that
// allows the access is resolved by handle_mm_fault; any other fault fails. A failed
// user-mode access (PF_U) also posts SIGSEGV (SIGBUS for a driver's VM_FAULT_SIGBUS,
// SIGKILL when memory ran out):
// the process will not run further. A failed kernel-mode access just fails, and the
// copy routine reports the bytes it could not copy.

import { PF_P, PF_U, PF_W } from "../../../../machine/x86/paging64.js";
import type { PageFaultHandler } from "../../../../machine/syscall.js";
import type { linux_kernel } from "../../../init/main.js";
import { VM_FAULT_OOM, VM_FAULT_SIGBUS, VM_READ, VM_WRITE, VM_EXEC } from "../../../include/linux/mm_types.js";
import { SIGBUS, SIGKILL, SIGSEGV } from "../../../include/linux/signal.js";
import { get_current } from "../kernel/percpu.js";
import { find_vma } from "../../../mm/mmap.js";
import { handle_mm_fault } from "../../../mm/memory.js";
import { force_sig_fault } from "../../../kernel/signal.js";

export function page_fault_handler(k: linux_kernel): PageFaultHandler {
  return (address: number, error_code: number): boolean => {
    if (k.panic_error !== null) throw k.panic_error;
    const tsk = get_current(k);
    try {
      const sig = do_user_addr_fault(k, address, error_code);
      if (sig !== 0 && error_code & PF_U) force_sig_fault(k, sig, tsk);
      return sig === 0;
    } catch (e) {
      tsk.kernel_error = e;
      throw e;
    }
  };
}

/** 0 when the fault is resolved, else the signal a user-mode access gets. */
function do_user_addr_fault(k: linux_kernel, address: number, error_code: number): number {
  const mm = get_current(k).mm;
  if (mm === null) return SIGSEGV;
  const vma = find_vma(mm, address);
  if (vma === null || vma.vm_start > address) return SIGSEGV;
  const write = (error_code & PF_W) !== 0;
  // access_error
  if (write ? (vma.vm_flags & VM_WRITE) === 0 : (vma.vm_flags & (VM_READ | VM_WRITE | VM_EXEC)) === 0) return SIGSEGV;
  if (error_code & PF_P && !write) return SIGSEGV;
  const ret = handle_mm_fault(k, mm, vma, address, write);
  if (ret === 0) return 0;
  // VM_FAULT_OOM: pagefault_out_of_memory; the OOM killer of this model picks the
  // faulting task.
  return ret & VM_FAULT_SIGBUS ? SIGBUS : ret & VM_FAULT_OOM ? SIGKILL : SIGSEGV;
}
