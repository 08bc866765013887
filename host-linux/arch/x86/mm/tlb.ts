// arch/x86/mm/tlb.c: switch_mm loads the next address space's page-table root into
// CR3. Kernel threads (no mm) run on swapper_pg_dir, which maps no user addresses;
// lazy TLB (borrowing the previous mm) is not modelled.

import type { Cpu } from "../../../../machine/engine.js";
import type { linux_kernel } from "../../../init/main.js";
import type { mm_struct } from "../../../mm/mm_struct.js";
import { PAGE_SIZE } from "../../../../machine/addr.js";

export function switch_mm(k: linux_kernel, cpu: Cpu, next: mm_struct | null): void {
  cpu.x86.state.cr3 = next !== null ? next.pgd.pfn * PAGE_SIZE : k.swapper_pg_dir;
}
