// kernel/printk/printk.c: the kernel log buffer. Each record keeps its level and a
// timestamp from local_clock() (the TSC of the CPU that logged it); dmesg() returns
// the buffer as `dmesg -r` prints it: "<level>[seconds.micros] text". Records at a
// level below console_loglevel also go to the console, when there is one.

import { current_cpu, on_cpu } from "../../../machine/engine.js";
import type { HostPipe } from "../../../machine/host_pipe.js";
import type { linux_kernel } from "../../init/main.js";
import { TSC_KHZ } from "../../arch/x86/kernel/tsc.js";

export const KERN_EMERG = "<0>";
export const KERN_ALERT = "<1>";
export const KERN_CRIT = "<2>";
export const KERN_ERR = "<3>";
export const KERN_WARNING = "<4>";
export const KERN_NOTICE = "<5>";
export const KERN_INFO = "<6>";
export const KERN_DEBUG = "<7>";
export const KERN_DEFAULT = "";

/** Records kept in the ring before the oldest are dropped (log_buf_len / ~64 bytes). */
const LOG_BUF_RECORDS = 8192;
const CONSOLE_LOGLEVEL_DEFAULT = 7;

export interface printk_record {
  level: number;
  ts_nsec: number;
  text: string;
}

export class printk_log {
  readonly records: printk_record[] = [];
  console: HostPipe | null = null;
  console_loglevel = CONSOLE_LOGLEVEL_DEFAULT;
}

/** printk_get_level: "<N>" prefix → N; none → default_message_loglevel (4). */
function printk_get_level(level: string): number {
  const m = /^<([0-7])>$/.exec(level);
  return m ? Number(m[1]) : 4;
}

function local_clock(k: linux_kernel): number {
  const cpu = on_cpu() && current_cpu().machine === k.machine ? current_cpu() : k.machine.cpus[0];
  return Math.floor((cpu.tsc * 1e6) / TSC_KHZ);
}

export function printk(k: linux_kernel, level: string, msg: string): void {
  const lvl = printk_get_level(level);
  const text = msg.endsWith("\n") ? msg.slice(0, -1) : msg;
  const rec: printk_record = { level: lvl, ts_nsec: local_clock(k), text };
  const log = k.log;
  log.records.push(rec);
  if (log.records.length > LOG_BUF_RECORDS) log.records.shift();
  if (log.console !== null && lvl < log.console_loglevel)
    log.console.write(new TextEncoder().encode(`${format_time(rec.ts_nsec)} ${text}\n`));
}

function format_time(ns: number): string {
  const s = Math.floor(ns / 1e9);
  const us = Math.floor((ns % 1e9) / 1e3);
  return `[${String(s).padStart(5, " ")}.${String(us).padStart(6, "0")}]`;
}

/** The log as `dmesg -r` shows it. */
export function dmesg(k: linux_kernel): string {
  return k.log.records.map((r) => `<${r.level}>${format_time(r.ts_nsec)} ${r.text}\n`).join("");
}
