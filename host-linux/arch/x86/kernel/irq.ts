// arch/x86/kernel/irq.c, apic/: the interrupt entry this kernel installs on every CPU
// (its IDT). Runs synchronously in interrupt context (Cpu.in_interrupt).

import type { InterruptHandler } from "../../../../machine/engine.js";
import type { linux_kernel } from "../../../init/main.js";
import type { percpu } from "./percpu.js";
import { CALL_FUNCTION_SINGLE_VECTOR, CALL_FUNCTION_VECTOR, LOCAL_TIMER_VECTOR, RESCHEDULE_VECTOR } from "./irq_vectors.js";
import { tick_handle_periodic } from "../../../kernel/time/tick.js";
import { generic_smp_call_function_single_interrupt } from "../../../kernel/smp.js";
import { KERN_ERR, printk } from "../../../kernel/printk/printk.js";

export function idt_handler(k: linux_kernel, pc: percpu): InterruptHandler {
  return (vector: number) => {
    switch (vector) {
      case LOCAL_TIMER_VECTOR:
        k.irq_count[pc.cpu_number]++;
        tick_handle_periodic(k, pc);
        break;
      case RESCHEDULE_VECTOR:
        // scheduler_ipi: TIF_NEED_RESCHED was set by the sender; the interrupt only
        // gets the CPU out of HLT or into its next preemption point.
        break;
      case CALL_FUNCTION_VECTOR:
      case CALL_FUNCTION_SINGLE_VECTOR:
        generic_smp_call_function_single_interrupt(pc);
        break;
      default:
        printk(k, KERN_ERR, `do_IRQ: ${pc.cpu_number}.${vector} No irq handler for vector`);
    }
  };
}
