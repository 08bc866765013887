// sys/kern/init_main.c (and amd64 hammer_time): booting the kernel.
//
// freebsd_boot() is what the loader and locore do before mi_startup: it builds the
// kernel's globals, the physical page allocator and the kernel pmap, the per-CPU areas
// and proc0/thread0, and installs the trap, interrupt and syscall entries on each CPU.
// mi_startup() then runs in thread0 on CPU 0 once the machine runs, executing the
// SYSINITs in subsystem order. The table below reads as this kernel's layer map.

import { Context, type Machine } from "../../machine/engine.js";
import type { HostPipe } from "../../machine/host_pipe.js";
import { kernel, type kernel_options, type sysinit, SI_SUB_VM, SI_SUB_KMEM, SI_SUB_CPU, SI_SUB_WITNESS, SI_SUB_KLD, SI_SUB_DEVFS, SI_SUB_DRIVERS, SI_SUB_CLOCKS, SI_SUB_SMP, SI_SUB_RUN_SCHEDULER } from "../sys/kernel.js";
import { pcpu, curpcpu } from "../sys/pcpu.js";
import { proc, thread, TDF_IDLETD, P_SYSTEM } from "../sys/proc.js";
import { PAGE_SIZE } from "../sys/param.js";
import { msgbuf } from "./subr_msgbuf.js";
import { kprintf, printf } from "./subr_prf.js";
import { mi_switch } from "./kern_synch.js";
import { cpu_activeclock, sched_idle_steal } from "./sched_ule.js";
import { cpu_rearm_clock } from "./kern_clock.js";
import { thread_exit } from "./kern_thread.js";
import { lapic_handle_intr } from "../amd64/intr_machdep.js";
import { pmap, pmap_pinit } from "../amd64/pmap.js";
import { vm_phys_init, vm_free_count } from "../vm/vm_phys.js";
import { kmem_arena } from "../vm/vm_kern.js";
import { malloc_state } from "./kern_malloc.js";
import { vmspace } from "../vm/vm_map.js";
import { VM_MAX_KERNEL_ADDRESS, VM_MIN_KERNEL_ADDRESS } from "../amd64/vmparam.js";
import { amd64_syscall } from "../amd64/trap.js";
import { trap_pfault } from "../amd64/trap.js";
import { devfs_init } from "./kern_conf.js";
import { null_modevent_load } from "../dev/null/null.js";
import { linker_init, linker_kernel_symbol, kern_kldfind, kern_kldload, kern_kldunload, linker_install_image, type kld_image } from "./kern_linker.js";
import { curthread } from "../sys/pcpu.js";
import { ENOENT } from "../sys/errno.js";
import { kern_run_process, type ProcessStatus, type UserProgram } from "./kern_exec.js";

export type { kld_image, ProcessStatus, UserProgram };

/** The SYSINIT table, in the order mi_startup sorts it. */
const sysinit_table: sysinit[] = [
  { subsystem: SI_SUB_VM, name: "vm_mem_init", func: (k) => kprintf(k, `real memory  = ${k.machine.ram.size_bytes} (${k.machine.ram.size_bytes >> 20} MB)\n`) },
  { subsystem: SI_SUB_KMEM, name: "kmeminit", func: (k) => kprintf(k, `avail memory = ${vm_free_count(k) * PAGE_SIZE} (${(vm_free_count(k) * PAGE_SIZE) >> 20} MB)\n`) },
  { subsystem: SI_SUB_WITNESS, name: "witness_initialize", func: () => printf("WITNESS option enabled, expect reduced performance.\n") },
  { subsystem: SI_SUB_KLD, name: "linker_init", func: (k) => linker_init(k) },
  { subsystem: SI_SUB_CPU, name: "cpu_startup", func: (k) => printf(`FreeBSD/SMP: ${k.ncpu} CPUs (lkvm model)\n`) },
  { subsystem: SI_SUB_DEVFS, name: "devfs_init", func: (k) => devfs_init(k) },
  { subsystem: SI_SUB_DRIVERS, name: "null_modevent", func: () => null_modevent_load() },
  { subsystem: SI_SUB_CLOCKS, name: "initclocks", func: (k) => cpu_activeclock(k, curpcpu()) },
  { subsystem: SI_SUB_SMP, name: "release_aps", func: (k) => release_aps(k) },
  { subsystem: SI_SUB_RUN_SCHEDULER, name: "scheduler", func: (k) => run_rc(k) },
];
const sysinits = [...sysinit_table].sort((a, b) => a.subsystem - b.subsystem);

function release_aps(k: kernel): void {
  for (const pc of k.pcpus) {
    if (pc.pc_cpuid === 0) continue;
    k.machine.boot_cpu(pc.pc_cpu, pc.pc_idlethread.td_context!);
    pc.pc_started = true;
    printf(`SMP: AP CPU #${pc.pc_cpuid} Launched!\n`);
  }
}

async function run_rc(k: kernel): Promise<void> {
  k.cold = false;
  const main = k.start_main;
  if (main !== null) await main();
}

async function mi_startup(k: kernel): Promise<void> {
  for (const si of sysinits) await si.func(k);
}

/** sched_idletd: the idle loop. HLT until an interrupt brings work. */
async function sched_idletd(pc: pcpu): Promise<void> {
  const m = pc.pc_kernel.machine;
  for (;;) {
    if (pc.pc_runq.length > 0 || sched_idle_steal(pc)) {
      await mi_switch();
      continue;
    }
    cpu_rearm_clock(pc);
    await m.cpu_halt();
  }
}

/** The booted kernel as boot/ uses it (boot/host_kernel.ts's HostKernel needs). */
export class freebsd_kernel {
  readonly name = "freebsd" as const;
  constructor(
    readonly machine: Machine,
    /** The kernel's globals, for tests and the shim. */
    readonly k: kernel,
  ) {}

  /** Run `main` in thread0 (proc0) after the SYSINITs. Call before machine.run(). */
  start(main: () => Promise<void>): void {
    this.k.start_main = main;
  }

  /** Make a kld image available to kldload by name (the file in /boot/kernel). */
  install_kld(image: kld_image): void {
    linker_install_image(this.k, image);
  }

  /** kldload(2) by module file name, from kernel-thread context: 0 or a positive errno. */
  async kldload(name: string): Promise<number> {
    return (await kern_kldload(curthread(), name)).error;
  }

  /** kldunload(2) by name: 0, EBUSY while in use, ENOENT if not loaded. */
  async kldunload(name: string): Promise<number> {
    const id = kern_kldfind(name);
    return id < 0 ? ENOENT : kern_kldunload(curthread(), id);
  }

  /** fork1 + exec + kern_wait from kernel-thread context. */
  run_process(comm: string, program: UserProgram, stdout: HostPipe, stderr: HostPipe): Promise<ProcessStatus> {
    return kern_run_process(comm, program, stdout, stderr);
  }

  free_page_count(): number {
    return vm_free_count(this.k);
  }

  dmesg(): string {
    return this.k.msgbufp.msgbuf_getbytes();
  }
}

/** Boot FreeBSD on `machine`: hammer_time now, mi_startup when the machine runs. */
export function freebsd_boot(machine: Machine, opts: kernel_options = {}): freebsd_kernel {
  if (machine.kernel_symbols !== null) throw new Error("freebsd_boot: a kernel is already booted on this machine");
  const k = new kernel(machine, opts);
  k.msgbufp = new msgbuf();
  // vm_page_startup / pmap_bootstrap.
  vm_phys_init(k, 1);
  k.kernel_pmap = new pmap(k);
  if (!pmap_pinit(k.kernel_pmap)) throw new Error("freebsd_boot: no memory for the kernel pmap");
  k.kernel_arena = new kmem_arena();
  k.malloc = new malloc_state();
  // proc0 / thread0 and the idle threads.
  const vmspace0 = new vmspace(k.kernel_pmap, VM_MIN_KERNEL_ADDRESS, VM_MAX_KERNEL_ADDRESS);
  const proc0 = new proc(0, "kernel");
  proc0.p_flag |= P_SYSTEM;
  proc0.p_state = "PRS_NORMAL";
  proc0.p_vmspace = vmspace0;
  k.proc0 = proc0;
  k.allproc.push(proc0);
  const idleproc = new proc(11, "idle");
  idleproc.p_flag |= P_SYSTEM;
  idleproc.p_state = "PRS_NORMAL";
  idleproc.p_vmspace = vmspace0;
  k.allproc.push(idleproc);
  k.next_pid = 12;
  for (const cpu of machine.cpus) {
    const pc = new pcpu(cpu.id, cpu, k);
    k.pcpus.push(pc);
    cpu.gsbase = pc;
    cpu.intr_handler = (v) => lapic_handle_intr(pc, v);
    cpu.syscall_entry = (nr, args, code) => amd64_syscall(nr, args, code);
    cpu.page_fault_handler = (va, ec) => trap_pfault(va, ec);
    const idle = new thread(k.next_tid++, `idle: cpu${cpu.id}`, idleproc);
    idle.td_flags |= TDF_IDLETD;
    idle.td_state = "TDS_CAN_RUN";
    idle.td_lastcpu = cpu.id;
    idle.td_pinned = 1;
    idle.td_context = new Context(`idle: cpu${cpu.id}`, () => sched_idletd(pc));
    idleproc.p_threads.push(idle);
    pc.pc_idlethread = idle;
    pc.pc_curthread = idle;
    cpu.x86.state.cr3 = k.kernel_pmap.pm_cr3;
  }
  const td0 = new thread(k.next_tid++, "thread0", proc0);
  td0.td_context = new Context("thread0", async () => {
    await mi_startup(k);
    thread_exit();
  });
  proc0.p_threads.push(td0);
  k.thread0 = td0;
  const pc0 = k.pcpus[0];
  pc0.pc_curthread = td0;
  pc0.pc_started = true;
  td0.td_state = "TDS_RUNNING";
  td0.td_oncpu = 0;
  td0.td_lastcpu = 0;
  machine.boot_cpu(machine.cpus[0], td0.td_context);
  machine.kernel_symbols = (name) => linker_kernel_symbol(k, name);
  kprintf(k, "Copyright (c) 1992-2007 The FreeBSD Project.\nFreeBSD 7.0-CURRENT (LKVM) amd64 (simulated)\n");
  return new freebsd_kernel(machine, k);
}
