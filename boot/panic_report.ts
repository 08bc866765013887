// What `lkvm run` prints when the simulated machine stops (a kernel panic or a machine
// check): the panic message as the kernel's console shows it, then the stopped thread's
// backtrace with its frames grouped by the layer each comes from (userspace, kvm,
// compat, host-freebsd / host-linux, machine), derived from the source file of each frame.

import type { MachineStopped } from "../machine/engine.js";

export const LAYERS = ["userspace", "boot", "kvm", "compat", "host-freebsd", "host-linux", "machine"] as const;
export type Layer = (typeof LAYERS)[number];

export interface Frame {
  fn: string;
  /** Repository-relative file and line, e.g. kvm/vmx.ts:512. */
  where: string;
  layer: Layer;
}

/** The layer a source path belongs to, or null for frames outside the model (node, tests). */
export function layer_of(path: string): Layer | null {
  const norm = path.replace(/\\/g, "/");
  let best: { layer: Layer; at: number } | null = null;
  for (const layer of LAYERS) {
    const at = norm.lastIndexOf(`/${layer}/`);
    if (at >= 0 && (best === null || at > best.at)) best = { layer, at };
  }
  if (best === null || /\/node_modules\//.test(norm.slice(best.at))) return null;
  return best.layer;
}

/** The model's frames of a V8 stack, innermost first. */
export function parse_frames(stack: string): Frame[] {
  const out: Frame[] = [];
  for (const line of stack.split("\n")) {
    const m = /^\s*at (?:async )?(?:(.*?) \()?(?:file:\/\/)?([^()\s]+?):(\d+):\d+\)?$/.exec(line);
    if (m === null) continue;
    const layer = layer_of(m[2]);
    if (layer === null) continue;
    const i = m[2].replace(/\\/g, "/").lastIndexOf(`/${layer}/`);
    const rel = m[2].replace(/\\/g, "/").slice(i + 1).replace(/^(dist\/)/, "").replace(/\.js$/, ".ts");
    out.push({ fn: m[1] ?? "<anonymous>", where: `${rel}:${m[3]}`, layer });
  }
  return out;
}

/** Consecutive frames of the same layer, in order. */
export function group_by_layer(frames: readonly Frame[]): { layer: Layer; frames: Frame[] }[] {
  const groups: { layer: Layer; frames: Frame[] }[] = [];
  for (const f of frames) {
    const last = groups[groups.length - 1];
    if (last !== undefined && last.layer === f.layer) last.frames.push(f);
    else groups.push({ layer: f.layer, frames: [f] });
  }
  return groups;
}

/** The report for a stopped machine. */
export function format_panic_report(e: MachineStopped, host: string): string {
  const reason = e.reason;
  const message = reason instanceof Error ? reason.message : String(reason);
  const kind = reason instanceof Error && reason.name === "MachineCheck" ? "machine check" : "panic";
  // A panic for a trap in kernel code carries the trap's stack in its message: that is
  // the backtrace to show (it names where the fault happened); the headline is the rest.
  const msg_lines = message.split("\n").map((l) => l.replace(/ \[cpuid = \d+;[^\]]*\]$/, ""));
  const embedded = msg_lines.filter((l) => /^\s+at /.test(l));
  const headline = msg_lines.filter((l) => !/^\s+at /.test(l)).join("\n");
  const lines = [
    kind === "panic" && !/^panic: /.test(headline) ? `panic: ${headline}` : kind === "machine check" ? `machine check: ${headline}` : headline,
    `cpuid = ${e.cpu.id}`,
    `thread: ${e.context.name}`,
  ];
  const stack = embedded.length > 0 ? embedded.join("\n") : reason instanceof Error ? (reason.stack ?? "") : "";
  const frames = parse_frames(stack);
  if (frames.length > 0) {
    lines.push("backtrace, innermost first, by layer:");
    let n = 0;
    for (const g of group_by_layer(frames)) {
      lines.push(`  [${g.layer}]`);
      for (const f of g.frames) lines.push(`    #${n++} ${f.fn} at ${f.where}`);
    }
  }
  lines.push(`lkvm: the simulated ${host} kernel stopped on cpu${e.cpu.id} in ${e.context.name}`);
  return lines.join("\n") + "\n";
}
