// Runs SingleStepTests-format CPU test vectors (https://github.com/SingleStepTests) against
// the interpreter: each test loads registers and RAM into a bare real-mode X86Cpu, executes
// exactly one instruction, and compares registers, FLAGS (ANDed with the metadata.json
// flags-mask, since undefined flags differ between CPU generations) and RAM.
//
// The vectors come from an 8086; this CPU is an i386-class part. Where the two differ by
// design the test is skipped with the reason, never silently (see SKIP_FILE and skip_test).
// Physical addresses wrap at 1 MiB as on the 8086 (the A20 gate closed).

import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { PhysMem } from "../machine/phys_mem.js";
import { X86Cpu, type Bus } from "../machine/x86/cpu.js";
import { execute } from "../machine/x86/interp.js";
import { real_mode_segment, CR0_ET, EAX, EBX, ECX, EDX, ESP, EBP, ESI, EDI, ES, CS, SS, DS } from "../machine/x86/state.js";

interface Regs { ax?: number; bx?: number; cx?: number; dx?: number; sp?: number; bp?: number; si?: number; di?: number;
  cs?: number; ss?: number; ds?: number; es?: number; ip?: number; flags?: number }
interface SstTest {
  name: string;
  bytes: number[];
  initial: { regs: Required<Regs>; ram: [number, number][] };
  final: { regs: Regs; ram: [number, number][] };
}
interface OpMeta { status?: string; "flags-mask"?: number; reg?: Record<string, OpMeta> }

export interface SstResult { passed: number; failed: number; skipped: number }

/** Whole opcode files whose 8086 behaviour is not the i386's. */
const SKIP_FILE: Record<string, string> = {
  "54": "PUSH SP: the 8086 pushes the decremented SP, the i386 the value before the push",
  "0F": "POP CS on the 8086; the two-byte opcode escape on the i386",
  "D0.6": "SETMO on the 8086; an alias of SHL on the i386",
  "D1.6": "SETMO on the 8086; an alias of SHL on the i386",
  "D2.6": "SETMOC on the 8086; an alias of SHL on the i386",
  "D3.6": "SETMOC on the 8086; an alias of SHL on the i386",
  "FF.7": "undefined on the 8086 (behaves as PUSH); #UD on the i386",
  "F1": "an alias of LOCK on the 8086; INT1 (ICEBP) on the i386",
};
for (let o = 0x60; o <= 0x6f; o++)
  SKIP_FILE[o.toString(16).toUpperCase()] = "8086 alias of Jcc 70-7F; on the i386 PUSHA/POPA/BOUND/ARPL/FS/GS/operand-size/address-size/PUSH imm/IMUL/INS/OUTS";
for (const o of ["C0", "C1"]) SKIP_FILE[o] = "8086 alias of RET imm16/RET; on the i386 the shift-by-immediate group";
for (const o of ["C8", "C9"]) SKIP_FILE[o] = "8086 alias of RETF imm16/RETF; on the i386 ENTER/LEAVE";
for (let o = 0xd8; o <= 0xdf; o++)
  SKIP_FILE[o.toString(16).toUpperCase()] = "x87 escape: the 8086 only computes the address; this CPU has no FPU (#UD, or #NM with CR0.EM/TS)";

const REGS16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"] as const;
const SEGS = ["es", "cs", "ss", "ds"] as const;

function hexkey(file: string): string {
  return file.replace(/\.json$/, "");
}

function meta_for(meta: Record<string, OpMeta>, key: string): OpMeta {
  const [op, reg] = key.split(".");
  const m = meta[op] ?? {};
  if (reg !== undefined && m.reg?.[reg] !== undefined) return m.reg[reg];
  return m;
}

/** Per-test 8086-vs-i386 differences, decided from the test's inputs and the 8086's outcome. */
function skip_test(key: string, t: SstTest, event: number): string | null {
  const op = key.split(".")[0];
  const b = t.bytes;
  let i = 0;
  let rep = false;
  while ([0x26, 0x2e, 0x36, 0x3e, 0xf0, 0xf2, 0xf3].includes(b[i])) { if (b[i] === 0xf2 || b[i] === 0xf3) rep = true; i++; }
  const modrm = b[i + 1] ?? 0;
  const reg = (modrm >>> 3) & 7;
  const r = t.initial.regs;
  if (op === "8F" && reg !== 0) return "ModR/M reg != 0 is ignored by the 8086 (POP); #UD on the i386";
  if ((op === "C6" || op === "C7") && reg !== 0) return "ModR/M reg != 0 is ignored by the 8086; #UD on the i386";
  if (op === "8C" && reg > 3) return "8086 decodes only two bits of the segment register; FS/GS or #UD on the i386";
  if (op === "8E" && (reg > 3 || reg === 1)) return "8086 decodes only two bits of the segment register (and allows MOV CS); FS/GS or #UD on the i386";
  if ((key === "F6.5" || key === "F6.7" || key === "F7.5" || key === "F7.7") && rep) return "a REP prefix negates the IMUL/IDIV result on the 8086";
  if ((op === "D2" || op === "D3") && (r.cx & 0xff) > 31) return "the i386 masks shift counts to 5 bits; the 8086 does not";
  if (op === "F6" || op === "F7" || op === "D4") {
    const took_de = t.final.regs.ip !== undefined && t.final.regs.ip !== ((r.ip + b.length) & 0xffff);
    if (took_de || event === 0) return "divide error: the 8086 pushes the next instruction's IP (and its IDIV range differs), the i386 the faulting one";
  }
  if (op === "37" || op === "3F") {
    const al = r.ax & 0xff, af = (r.flags & 0x10) !== 0;
    const adj = (al & 0xf) > 9 || af;
    if (adj && (op === "37" ? al > 0xf9 : al < 6)) return "AAA/AAS: the 8086 adjusts AL and AH separately, the i386 adds to or subtracts from AX";
  }
  if (event === 12 || event === 13) return "#GP/#SS: the i386 faults on an access or fetch crossing offset 0xFFFF, where the 8086 wraps within the segment";
  return null;
}

class SstBus implements Bus {
  constructor(readonly ram: PhysMem) {}
  mmio_read(): number { return 0xff; }
  mmio_write(): void {}
  // Upstream condition: IN reads return 0xFF.
  io_in(_port: number, size: 1 | 2 | 4): number { return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff; }
  io_out(): void {}
}

function lin(seg: number, off: number): number {
  return ((seg << 4) + off) & 0xfffff;
}

/** Run one test; returns null on a pass, else a description of the first differences. */
function run_one(key: string, t: SstTest, fmask: number, out_event: { v: number }): string | null {
  const ram = new PhysMem(1 << 20);
  const cpu = new X86Cpu(new SstBus(ram));
  cpu.a20_mask = 0xfffff;
  const s = cpu.state;
  const r = t.initial.regs;
  REGS16.forEach((n, i) => { s.gpr[i] = r[n]; });
  s.seg[ES] = real_mode_segment(r.es);
  s.seg[CS] = real_mode_segment(r.cs, true);
  s.seg[SS] = real_mode_segment(r.ss);
  s.seg[DS] = real_mode_segment(r.ds);
  s.eip = r.ip;
  // FLAGS bits 12-15 read as 1 on the 8086; on the i386 they are IOPL, NT and a reserved 0.
  s.eflags = (r.flags & 0x7fd5) | 2;
  s.cr0 = CR0_ET;
  s.idtr = { base: 0, limit: 0x3ff };
  for (const [a, v] of t.initial.ram) ram.write8(a as never, v);
  cpu.last_event_vector = -1;
  execute(cpu, 1);
  out_event.v = cpu.last_event_vector;
  const diffs: string[] = [];
  const f = t.final.regs;
  const got: Record<string, number> = {
    ax: s.gpr[EAX] & 0xffff, cx: s.gpr[ECX] & 0xffff, dx: s.gpr[EDX] & 0xffff, bx: s.gpr[EBX] & 0xffff,
    sp: s.gpr[ESP] & 0xffff, bp: s.gpr[EBP] & 0xffff, si: s.gpr[ESI] & 0xffff, di: s.gpr[EDI] & 0xffff,
    es: s.seg[ES].selector, cs: s.seg[CS].selector, ss: s.seg[SS].selector, ds: s.seg[DS].selector, ip: s.eip & 0xffff,
  };
  for (const n of [...REGS16, ...SEGS, "ip"] as const) {
    const want = f[n] ?? r[n];
    if (got[n] !== want) diffs.push(`${n}=${got[n].toString(16)} want ${want.toString(16)}`);
  }
  const m = fmask & 0x0fd5;
  const wf = (f.flags ?? r.flags) & m, gf = s.eflags & m;
  if (wf !== gf) diffs.push(`flags=${gf.toString(16)} want ${wf.toString(16)} (mask ${m.toString(16)})`);
  // The FLAGS image an instruction pushes: its bits 12-15 differ as above.
  const flag_hi = new Set<number>();
  const op = key.split(".")[0];
  const ssel = f.ss ?? r.ss, sp = f.sp ?? r.sp;
  if (op === "9C") flag_hi.add(lin(ssel, (sp + 1) & 0xffff));
  if (op === "CC" || op === "CD" || op === "CE") flag_hi.add(lin(ssel, (sp + 5) & 0xffff));
  for (const [a, v] of t.final.ram) {
    const g = ram.read8(a as never);
    if (g === v) continue;
    if (flag_hi.has(a) && ((g ^ v) & 0x0f) === 0) continue;
    diffs.push(`[${a.toString(16)}]=${g.toString(16)} want ${v.toString(16)}`);
  }
  return diffs.length === 0 ? null : diffs.join(", ");
}

export function run_sst(dir: string, out: (line: string) => void): SstResult {
  const total: SstResult = { passed: 0, failed: 0, skipped: 0 };
  const mpath = [join(dir, "metadata.json"), join(dirname(dir), "metadata.json")].find((p) => existsSync(p));
  const meta: Record<string, OpMeta> = mpath !== undefined ? (JSON.parse(readFileSync(mpath, "utf8")).opcodes ?? {}) : {};
  const files = readdirSync(dir).filter((n) => /^[0-9A-Fa-f]{2}(\.[0-7])?\.json$/.test(n)).sort();
  for (const file of files) {
    const key = hexkey(file).toUpperCase();
    const tests = JSON.parse(readFileSync(join(dir, file), "utf8")) as SstTest[];
    const whole = SKIP_FILE[key] ?? SKIP_FILE[key.split(".")[0]];
    if (whole !== undefined) {
      total.skipped += tests.length;
      out(`${key}: 0 passed, 0 failed, ${tests.length} skipped: ${whole}`);
      continue;
    }
    const fmask = meta_for(meta, key)["flags-mask"] ?? 0xffff;
    let p = 0, fl = 0, sk = 0;
    const reasons = new Map<string, number>();
    const fails: string[] = [];
    for (const t of tests) {
      const ev = { v: -1 };
      let res: string | null;
      try {
        res = run_one(key, t, fmask, ev);
      } catch (e) {
        res = `exception: ${(e as Error).message}`;
      }
      const why = skip_test(key, t, ev.v);
      if (why !== null) { sk++; reasons.set(why, (reasons.get(why) ?? 0) + 1); continue; }
      if (res === null) p++;
      else { fl++; if (fails.length < 3) fails.push(`  FAIL ${key} "${t.name}" [${t.bytes.map((x) => x.toString(16)).join(" ")}]: ${res}`); }
    }
    total.passed += p; total.failed += fl; total.skipped += sk;
    out(`${key}: ${p} passed, ${fl} failed, ${sk} skipped`);
    for (const [why, n] of reasons) out(`  skip ${n}: ${why}`);
    for (const l of fails) out(l);
  }
  out(`sst: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
  return total;
}
