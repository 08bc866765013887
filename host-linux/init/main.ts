// init/main.c: start_kernel, rest_init and kernel_init; read top to bottom it is the
// layer map of this kernel.
//
//   setup_arch        RAM (e820), memblock reservations: the first MiB, the kernel
//                     image (which holds swapper_pg_dir), mem_map
//   mm_core_init      mem_map and the buddy allocator (mm/page_alloc), kmalloc caches (mm/slab)
//   sched_init        per-CPU areas, runqueues and idle tasks (kernel/sched)
//   trap_init         every CPU's IDT (arch/x86/kernel/irq), SYSCALL entry
//                     (kernel/entry), #PF handler (arch/x86/mm/fault)
//   time_init         the periodic tick (kernel/time/tick), HZ
//   futex_init        the futex hash buckets (kernel/futex)
//   vfs_caches_init   the anon inode (fs/anon_inodes), debugfs (fs/debugfs, mounted at
//                     /sys/kernel/debug), char devices: mem (/dev/null) and misc
//   EXPORT_SYMBOL     the Linux API for modules (kernel/export), in machine.kernel_symbols
//   smp_init          every CPU enters its idle loop; kernel_init (pid 1) runs the
//                     caller's main once start() is called
//
// The kernel object below is the whole kernel's state: nothing lives in module globals,
// so several machines with their own kernels can run in one process.

import type { Machine } from "../../machine/engine.js";
import { Context } from "../../machine/engine.js";
import { PAGE_SIZE, type Hpa } from "../../machine/addr.js";
import type { HostPipe } from "../../machine/host_pipe.js";
import { percpu } from "../arch/x86/kernel/percpu.js";
import { idt_handler } from "../arch/x86/kernel/irq.js";
import { LOCAL_TIMER_VECTOR } from "../arch/x86/kernel/irq_vectors.js";
import { TSC_KHZ } from "../arch/x86/kernel/tsc.js";
import { page_fault_handler } from "../arch/x86/mm/fault.js";
import type { miscdevice } from "../include/linux/miscdevice_types.js";
import type { module } from "../include/linux/module_types.js";
import { signal_struct, task_struct } from "../include/linux/sched.js";
import { KernelPanic, panic } from "../kernel/panic.js";
import { UTS_RELEASE, UTS_VERSION } from "../include/linux/utsname.js";
import { lockdep_info, lockdep_state } from "../kernel/locking/lockdep.js";
import { KERN_INFO, dmesg, printk, printk_log } from "../kernel/printk/printk.js";
import { do_idle, rq } from "../kernel/sched/core.js";
import { wait_queue_head } from "../kernel/sched/wait.js";
import { entry_SYSCALL_64 } from "../kernel/entry/common.js";
import { kthread_run } from "../kernel/fork.js";
import { kernel_wait4 } from "../kernel/exit.js";
import { kill_pid } from "../kernel/signal.js";
import { delete_module, type loaded_module, modprobe } from "../kernel/module/main.js";
import { LINUX_KERNEL_API_SYMBOL, build_linux_kernel_api, type linux_kernel_api } from "../kernel/export.js";
import { type ProcessStatus, type UserProgram, decode_status, run_process, user_process_spawn } from "../kernel/umh.js";
import { free_area_init, mark_reserved, nr_free_pages, zone } from "../mm/page_alloc.js";
import { create_kmalloc_caches, type kmem_cache } from "../mm/slab.js";
import type { char_device_struct } from "../fs/char_dev.js";
import type { inode } from "../fs/inode.js";
import { anon_inode_init } from "../fs/anon_inodes.js";
import { type dentry, debugfs_init } from "../fs/debugfs/inode.js";
import { type futex_hash_bucket, futex_init } from "../kernel/futex/core.js";
import { chr_dev_init } from "../drivers/char/mem.js";
import { misc_init } from "../drivers/char/misc.js";

export interface linux_boot_options {
  /** Tick frequency (CONFIG_HZ), default 1000. */
  hz?: number;
  /** Where printk records below console_loglevel also go. */
  console?: HostPipe;
  /** panic_on_warn: a WARN() stops the machine. */
  panic_on_warn?: boolean;
  /** CONFIG_PROVE_LOCKING: lockdep validates every lock order (default on, as in a
   *  debug kernel; its cost is one graph search per new dependency). */
  prove_locking?: boolean;
}

/** The first MiB (real-mode IVT, BIOS data, EBDA, VGA and option ROMs) is never used. */
const LOW_RESERVE = 0x100000;
/** The kernel image (text, data, bss, swapper_pg_dir) is loaded at 1 MiB. */
const KERNEL_IMAGE_START = 0x100000;
const KERNEL_IMAGE_SIZE = 0x100000;
/** sizeof(struct page). */
const STRUCT_PAGE_SIZE = 64;

export class linux_kernel {
  readonly name = "linux" as const;
  readonly log = new printk_log();
  panicked = false;
  /** The panic that stopped this kernel (rethrown to anything that enters it after). */
  panic_error: KernelPanic | null = null;
  panic_on_warn = false;
  warnings = 0;
  /** lib/debug_locks.c: off after the first locking report. */
  debug_locks = true;
  lockdep!: lockdep_state;
  // mm
  zone!: zone;
  kmalloc_caches: kmem_cache[] = [];
  /** Physical address of swapper_pg_dir, the kernel threads' page-table root. */
  swapper_pg_dir = 0;
  // sched
  readonly percpu: percpu[] = [];
  readonly pids = new Map<number, task_struct>();
  last_pid = 0;
  jiffies = 0;
  /** CONFIG_HZ, and the TSC cycles per tick. */
  HZ = 0;
  tick_period = 0;
  irq_count: number[] = [];
  // vfs
  readonly chrdevs = new Map<number, char_device_struct>();
  readonly devtmpfs = new Map<string, inode>();
  readonly misc_list: miscdevice[] = [];
  last_ino = 1;
  anon_inode!: inode;
  /** debugfs's root, mounted at /sys/kernel/debug. */
  debugfs_root!: dentry;
  // futex hash (kernel/futex/core)
  readonly futex_queues: futex_hash_bucket[] = [];
  // modules
  readonly modules = new Map<string, loaded_module>();
  api!: linux_kernel_api;

  constructor(readonly machine: Machine) {}

  // --- what boot/ drives (boot/host_kernel.ts) ---------------------------------------

  /** rest_init: create kernel_init (pid 1), which runs `main` and exits. */
  start(main: () => Promise<void>): void {
    const t = kthread_run(this, async () => {
      await main();
      return 0;
    }, "init");
    if (typeof t === "number") panic(this, `Failed to create kernel_init (${t})`);
  }

  /** modprobe `mod` with `args` ("enable_ept=1 mmu_cache=0"; its dependencies from
   *  `available`): 0 or a positive errno. */
  async load_kvm(mod: module, available: readonly module[] = [], args = ""): Promise<number> {
    const r = await modprobe(this, mod, available, args);
    return r === 0 ? 0 : -r;
  }

  /** modprobe -r: 0 or a positive errno (EWOULDBLOCK while in use). */
  async unload_kvm(mod: module | string): Promise<number> {
    const r = await delete_module(this, typeof mod === "string" ? mod : mod.name);
    return r === 0 ? 0 : -r;
  }

  run_process(comm: string, program: UserProgram, stdout: HostPipe, stderr: HostPipe): Promise<ProcessStatus> {
    return run_process(this, comm, program, stdout, stderr);
  }

  /** fork a process without waiting: its pid, or -errno. */
  async spawn_process(comm: string, program: UserProgram, stdout: HostPipe, stderr: HostPipe): Promise<number> {
    const p = await user_process_spawn(this, comm, program, stdout, stderr);
    return typeof p === "number" ? p : p.pid;
  }

  /** wait4 for a child of the calling kernel thread. */
  async wait_process(pid: number): Promise<ProcessStatus> {
    const status = await kernel_wait4(this, pid);
    if (status < 0) throw new Error(`wait4(${pid}): ${status}`);
    return decode_status(status);
  }

  /** kill(2) from the kernel: 0 or -errno. */
  kill(pid: number, sig: number): number {
    return kill_pid(this, pid, sig);
  }

  /** A kernel thread running fn; its pid. */
  kthread_run(fn: () => Promise<number>, comm: string): number {
    const t = kthread_run(this, fn, comm);
    return typeof t === "number" ? t : t.pid;
  }

  free_page_count(): number {
    return nr_free_pages(this.zone);
  }

  dmesg(): string {
    return dmesg(this);
  }
}

function setup_arch(k: linux_kernel): { first_free: number; npages: number } {
  const ram = k.machine.ram;
  const npages = ram.npages;
  const mem_map_pages = Math.ceil((npages * STRUCT_PAGE_SIZE) / PAGE_SIZE);
  const image_end = (KERNEL_IMAGE_START + KERNEL_IMAGE_SIZE) / PAGE_SIZE;
  const first_free = image_end + mem_map_pages;
  printk(k, KERN_INFO, `BIOS-e820: [mem 0x0000000000000000-0x${(ram.size_bytes - 1).toString(16).padStart(16, "0")}] usable`);
  if (first_free + 64 > npages) panic(k, `Out of memory: ${ram.size_bytes} bytes of RAM cannot hold the kernel`);
  // swapper_pg_dir: the last page of the image, an empty PML4 (no user mappings).
  k.swapper_pg_dir = image_end * PAGE_SIZE - PAGE_SIZE;
  ram.fill(k.swapper_pg_dir as Hpa, PAGE_SIZE, 0);
  return { first_free, npages };
}

function mm_core_init(k: linux_kernel, first_free: number, npages: number): void {
  k.zone = new zone(npages);
  mark_reserved(k.zone, 0, first_free);
  free_area_init(k.zone, first_free, npages);
  k.kmalloc_caches = create_kmalloc_caches();
  const kb = (n: number) => (n * PAGE_SIZE) / 1024;
  printk(k, KERN_INFO, `Memory: ${kb(nr_free_pages(k.zone))}K/${kb(npages)}K available (${kb(KERNEL_IMAGE_SIZE / PAGE_SIZE)}K kernel code/data, ${kb(first_free - KERNEL_IMAGE_SIZE / PAGE_SIZE - LOW_RESERVE / PAGE_SIZE)}K mem_map, ${kb(LOW_RESERVE / PAGE_SIZE)}K reserved)`);
}

function sched_init(k: linux_kernel): void {
  for (const cpu of k.machine.cpus) {
    const pc = new percpu(k, cpu.id, cpu);
    const idle = new task_struct(0, `swapper/${cpu.id}`);
    idle.cpu = cpu.id;
    idle.signal = new signal_struct(new wait_queue_head());
    idle.signal.thread_head.push(idle);
    idle.ctx = new Context(`swapper/${cpu.id}`, () => do_idle(k));
    pc.current_task = idle;
    pc.rq = new rq(cpu.id, idle, idle);
    k.percpu.push(pc);
    k.irq_count.push(0);
    cpu.gsbase = pc;
  }
}

function trap_init(k: linux_kernel): void {
  const entry = entry_SYSCALL_64(k);
  const pf = page_fault_handler(k);
  for (const pc of k.percpu) {
    const cpu = pc.cpu;
    cpu.intr_handler = idt_handler(k, pc);
    cpu.timer_vector = LOCAL_TIMER_VECTOR;
    cpu.syscall_entry = entry;
    cpu.page_fault_handler = pf;
    cpu.x86.state.cr3 = k.swapper_pg_dir;
  }
}

function time_init(k: linux_kernel, hz: number): void {
  if (!Number.isInteger(hz) || hz <= 0) panic(k, `invalid HZ ${hz}`);
  k.HZ = hz;
  k.tick_period = Math.round((TSC_KHZ * 1000) / hz);
  printk(k, KERN_INFO, `tsc: Detected ${TSC_KHZ / 1000}.000 MHz processor; HZ=${hz}`);
}

function vfs_caches_init(k: linux_kernel): void {
  k.anon_inode = anon_inode_init(k);
  k.debugfs_root = debugfs_init(k);
  chr_dev_init(k);
  misc_init(k);
}

function smp_init(k: linux_kernel): void {
  for (const pc of k.percpu) k.machine.boot_cpu(pc.cpu, pc.current_task.ctx);
  printk(k, KERN_INFO, `smp: Brought up 1 node, ${k.percpu.length} CPU${k.percpu.length > 1 ? "s" : ""}`);
}

/** start_kernel. */
export function linux_boot(machine: Machine, opts: linux_boot_options = {}): linux_kernel {
  if (machine.kernel_symbols !== null) throw new Error("linux_boot: a kernel is already booted on this machine");
  const k = new linux_kernel(machine);
  k.panic_on_warn = opts.panic_on_warn ?? false;
  if (opts.console) k.log.console = opts.console;
  k.lockdep = new lockdep_state(opts.prove_locking ?? true);
  printk(k, "<5>", `Linux version ${UTS_RELEASE} (lkvm model) ${UTS_VERSION}`);
  const { first_free, npages } = setup_arch(k);
  mm_core_init(k, first_free, npages);
  sched_init(k);
  trap_init(k);
  time_init(k, opts.hz ?? 1000);
  lockdep_info(k);
  futex_init(k);
  vfs_caches_init(k);
  k.api = build_linux_kernel_api(k);
  machine.kernel_symbols = (name: string) => (name === LINUX_KERNEL_API_SYMBOL ? k.api : undefined);
  smp_init(k);
  return k;
}

export { KernelPanic };
