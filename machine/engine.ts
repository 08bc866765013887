// The simulation engine: N CPUs interleaved deterministically, and the kernel
// stacks ("contexts") they run.
//
// A Context is a kernel stack: an async function that runs on one CPU at a time and
// gives the CPU up only at an `await` of one of the calls below. Synchronous code
// therefore cannot be preempted or migrated — exactly the property a spinlock or a
// critical section gives real kernel code. Kernels build threads, run queues and
// sleep/wakeup on top of these five operations (the machine-dependent part of a
// context switch, as cpu_switch() in FreeBSD's swtch.s or __switch_to() in Linux):
//
//   cpu_yield(cost)  stay current on this CPU; let the other CPUs catch up in time
//   cpu_switch(to)   this CPU now runs `to`; the caller resumes when some CPU switches back to it
//   cpu_throw(to)    as cpu_switch, for a context that never runs again (thread exit)
//   cpu_halt()       HLT: wait for an interrupt (the idle loop)
//   send_ipi(cpu, v) post interrupt vector v to a CPU, waking it if halted
//   cli() / sti()    the current CPU's interrupt flag; sti() takes pending interrupts at once
//
// Ordering: the engine always advances the runnable CPU whose time-stamp counter is
// lowest; ties are broken by the machine's seeded Rng. Interrupts are delivered to a
// CPU just before its context resumes, when the CPU's interrupt flag is set. So one
// seed fixes the whole interleaving.
//
// `current_cpu()` is the only process-wide state: the CPU whose context is executing
// right now, as %gs names the per-CPU area on a real CPU. A process-wide baton makes
// sure only one context (of any machine) executes at a time, so many machines can run
// in one process without seeing each other's CPU.

import { PcBus } from "./bus.js";
import { MachineCheck, PhysMem } from "./phys_mem.js";
import { Rng } from "./rng.js";
import type { PageFaultHandler, SyscallEntry } from "./syscall.js";
import { X86Cpu } from "./x86/cpu.js";
import { VmxUnit } from "./x86/vmx.js";

export type ContextState = "new" | "running" | "suspended" | "done";

export class Context {
  state: ContextState = "new";
  /** CPU this context last ran on. */
  last_cpu: Cpu | null = null;
  /** Resolves the await of a suspended context. */
  wake: (() => void) | null = null;

  constructor(
    readonly name: string,
    readonly body: () => Promise<void>,
  ) {}
}

/** The per-CPU interrupt entry a kernel installs (its IDT): runs synchronously, in interrupt context. */
export type InterruptHandler = (vector: number) => void;

export class Cpu {
  /** Kernel's per-CPU data (what %gs points at): a FreeBSD struct pcpu or Linux per-cpu area. */
  gsbase: unknown = null;
  /** Time-stamp counter, in cycles. */
  tsc = 0;
  /** RFLAGS.IF as far as the host kernel is concerned. */
  intr_enabled = true;
  /** True while the CPU runs an interrupt handler. */
  in_interrupt = false;
  /** One-shot local timer (TSC-deadline mode): raises timer_vector when tsc reaches it. */
  timer_deadline: number | null = null;
  timer_vector = 0xef;
  intr_handler: InterruptHandler | null = null;
  /** Kernel entry for SYSCALL (what MSR_LSTAR points at). */
  syscall_entry: SyscallEntry | null = null;
  /** Kernel #PF handler for host-mode user-space accesses. */
  page_fault_handler: PageFaultHandler | null = null;
  /** Architectural state: the host kernel's while in VMX root operation, the guest's inside. */
  readonly x86: X86Cpu;
  readonly vmx: VmxUnit;
  /** Context the CPU is running (null before a kernel starts on it). */
  ctx: Context | null = null;
  halted = false;
  readonly pending: number[] = [];

  constructor(
    readonly id: number,
    readonly machine: Machine,
  ) {
    this.x86 = new X86Cpu(machine.bus, () => this.tsc);
    this.vmx = new VmxUnit(this, this.x86, machine.vmcs_activity);
  }

  has_deliverable_interrupt(): boolean {
    return this.intr_enabled && (this.pending.length > 0 || this.timer_due());
  }

  timer_due(): boolean {
    return this.timer_deadline !== null && this.tsc >= this.timer_deadline;
  }
}

/** Raised out of Machine.run() when a context throws: a kernel panic or machine check. */
export class MachineStopped extends Error {
  constructor(
    readonly cpu: Cpu,
    readonly context: Context,
    readonly reason: unknown,
  ) {
    super(`cpu${cpu.id} (${context.name}): ${reason instanceof Error ? reason.message : String(reason)}`);
    this.name = "MachineStopped";
  }
}

export interface MachineConfig {
  ncpus: number;
  ram_bytes: number;
  seed: number;
  /** Cycles charged to a CPU for each cpu_yield without an explicit cost. */
  yield_cost?: number;
}

let running: Cpu | null = null;
let baton: Promise<void> = Promise.resolve();

/** The CPU whose context is executing now. Outside any context it is a bug to ask. */
export function current_cpu(): Cpu {
  if (running === null) throw new MachineCheck("no simulated CPU is executing (code ran outside a context)");
  return running;
}

/** True when called from inside a context (for assertions). */
export function on_cpu(): boolean {
  return running !== null;
}

export class Machine {
  readonly cpus: Cpu[] = [];
  readonly ram: PhysMem;
  /** The PC's I/O and MMIO space, for code that runs on the bare machine. */
  readonly bus: PcBus;
  readonly rng: Rng;
  /** Which CPU each VMCS is active on (the VT-x one-CPU rule). */
  readonly vmcs_activity = new Map<number, { cpu: Cpu; launched: boolean }>();
  /** The booted kernel's symbol table, as a module linker or debugger reads it: set by
   *  the kernel at boot (and extended by loaded modules). */
  kernel_symbols: ((name: string) => unknown) | null = null;
  readonly yield_cost: number;
  private give_back: (() => void) | null = null;
  private stopped = false;
  private failure: MachineStopped | null = null;
  /** Context switches performed, for statistics. */
  switches = 0;

  constructor(readonly config: MachineConfig) {
    if (!Number.isInteger(config.ncpus) || config.ncpus < 1 || config.ncpus > 64)
      throw new RangeError(`ncpus must be 1..64, not ${config.ncpus}`);
    this.ram = new PhysMem(config.ram_bytes);
    this.bus = new PcBus(this.ram);
    this.rng = new Rng(config.seed);
    this.yield_cost = config.yield_cost ?? 200;
    for (let i = 0; i < config.ncpus; i++) this.cpus.push(new Cpu(i, this));
  }

  /** Stop the run loop after the current context gives the CPU back. */
  stop(): void {
    this.stopped = true;
  }

  /**
   * Run until no CPU has anything to do (all halted with no timer armed), or stop().
   * A context that throws stops the machine; run() then rejects with MachineStopped.
   */
  async run(): Promise<void> {
    this.stopped = false;
    let last_turn = performance.now();
    while (!this.stopped && this.failure === null) {
      const cpu = this.pick();
      if (cpu === null) break;
      await this.run_slice(cpu);
      // Contexts resume through microtasks only; every 10 ms of wall time the host
      // process's event loop gets a turn (its I/O, a test runner's messages). The
      // simulated order is unaffected: it depends only on the CPUs' clocks and the seed.
      if (performance.now() - last_turn >= 10) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        last_turn = performance.now();
      }
    }
    if (this.failure !== null) {
      const f = this.failure;
      this.failure = null;
      throw f;
    }
  }

  /** The next CPU to advance: lowest TSC among runnable CPUs, ties by Rng. */
  private pick(): Cpu | null {
    let best: Cpu[] = [];
    let best_tsc = Infinity;
    for (const c of this.cpus) {
      if (c.ctx === null) continue;
      if (c.halted && !c.has_deliverable_interrupt()) continue;
      if (c.tsc < best_tsc) {
        best = [c];
        best_tsc = c.tsc;
      } else if (c.tsc === best_tsc) best.push(c);
    }
    // A halted CPU whose timer fires before the earliest runnable CPU's clock wakes first.
    let sleeper: Cpu | null = null;
    for (const c of this.cpus) {
      if (c.ctx === null || !c.halted || c.timer_deadline === null || !c.intr_enabled) continue;
      if (c.has_deliverable_interrupt()) continue;
      if (c.timer_deadline < best_tsc && (sleeper === null || c.timer_deadline < sleeper.timer_deadline!)) sleeper = c;
    }
    if (sleeper !== null) {
      sleeper.tsc = sleeper.timer_deadline!;
      return sleeper;
    }
    if (best.length === 0) return null;
    return best.length === 1 ? best[0] : best[this.rng.below(best.length)];
  }

  private async run_slice(cpu: Cpu): Promise<void> {
    // Process-wide baton: one context of any machine executes at a time.
    let release!: () => void;
    const prev = baton;
    baton = new Promise<void>((r) => (release = r));
    await prev;
    try {
      running = cpu;
      this.deliver_interrupts(cpu);
      if (this.failure !== null) return;
      cpu.halted = false;
      const ctx = cpu.ctx!;
      const done = new Promise<void>((r) => (this.give_back = r));
      ctx.last_cpu = cpu;
      if (ctx.state === "new") {
        ctx.state = "running";
        this.start(cpu, ctx);
      } else if (ctx.state === "suspended" && ctx.wake !== null) {
        const w = ctx.wake;
        ctx.wake = null;
        ctx.state = "running";
        w();
      } else {
        throw new MachineCheck(`cpu${cpu.id}: context ${ctx.name} is ${ctx.state}, cannot resume`);
      }
      await done;
    } finally {
      running = null;
      release();
    }
  }

  private start(cpu: Cpu, ctx: Context): void {
    ctx.body().then(
      () => {
        if (ctx.state === "done") return; // left through cpu_throw
        this.fail(cpu, ctx, new MachineCheck(`context ${ctx.name} returned without switching away`));
      },
      (err: unknown) => this.fail(ctx.last_cpu ?? cpu, ctx, err),
    );
  }

  private fail(cpu: Cpu, ctx: Context, err: unknown): void {
    if (this.failure === null) this.failure = err instanceof MachineStopped ? err : new MachineStopped(cpu, ctx, err);
    this.hand_back();
  }

  private hand_back(): void {
    const g = this.give_back;
    this.give_back = null;
    if (g !== null) g();
  }

  /** CLI on the current CPU. */
  cli(): void {
    current_cpu().intr_enabled = false;
  }

  /** STI on the current CPU: pending interrupts (and a due timer) are taken at once, in
   *  interrupt context, before the caller continues, as at the next instruction boundary. */
  sti(): void {
    const cpu = current_cpu();
    cpu.intr_enabled = true;
    this.deliver_interrupts(cpu);
  }

  private deliver_interrupts(cpu: Cpu): void {
    if (!cpu.intr_enabled || cpu.intr_handler === null) return;
    if (cpu.timer_due()) {
      cpu.timer_deadline = null;
      cpu.pending.push(cpu.timer_vector);
    }
    while (cpu.pending.length > 0 && cpu.intr_enabled) {
      const v = cpu.pending.shift()!;
      cpu.in_interrupt = true;
      try {
        cpu.intr_handler(v);
      } catch (err) {
        this.fail(cpu, cpu.ctx!, err);
        return;
      } finally {
        cpu.in_interrupt = false;
      }
    }
  }

  // --- operations a running context performs on its CPU -------------------------------

  private suspend(ctx: Context): Promise<void> {
    ctx.state = "suspended";
    const p = new Promise<void>((r) => (ctx.wake = r));
    this.hand_back();
    return p;
  }

  cpu_yield(cost = this.yield_cost): Promise<void> {
    const cpu = current_cpu();
    cpu.tsc += cost;
    return this.suspend(cpu.ctx!);
  }

  cpu_switch(to: Context): Promise<void> {
    const cpu = current_cpu();
    const from = cpu.ctx!;
    if (to === from) return this.cpu_yield();
    if (to.state === "running") throw new MachineCheck(`cpu${cpu.id}: switch to ${to.name}, already running`);
    if (to.state === "done") throw new MachineCheck(`cpu${cpu.id}: switch to ${to.name}, which has exited`);
    this.switches++;
    cpu.tsc += this.yield_cost;
    cpu.ctx = to;
    return this.suspend(from);
  }

  cpu_throw(to: Context): void {
    const cpu = current_cpu();
    const from = cpu.ctx!;
    from.state = "done";
    this.switches++;
    cpu.ctx = to;
    this.hand_back();
  }

  cpu_halt(): Promise<void> {
    const cpu = current_cpu();
    if (!cpu.intr_enabled) throw new MachineCheck(`cpu${cpu.id}: hlt with interrupts disabled would hang`);
    cpu.halted = true;
    return this.suspend(cpu.ctx!);
  }

  send_ipi(target: Cpu, vector: number): void {
    const from = running;
    target.pending.push(vector);
    if (target.halted && from !== null && from !== target) target.tsc = Math.max(target.tsc, from.tsc);
  }

  /** Start a context on an idle CPU that has none (kernel boot on each CPU). */
  boot_cpu(cpu: Cpu, ctx: Context): void {
    if (cpu.ctx !== null) throw new MachineCheck(`cpu${cpu.id} already running ${cpu.ctx.name}`);
    cpu.ctx = ctx;
  }
}
