// kernel/params.c: module parameters given on the insmod command line
// ("insmod kvm.ko enable_ept=1 mmu_cache=0"). parse_args splits name=value pairs;
// each known parameter is parsed by its type (param_set_bool: kstrtobool,
// param_set_int: kstrtoint); an unknown one is reported and ignored
// (unknown_module_param_cb); an invalid value fails the load with -EINVAL.

import type { linux_kernel } from "../init/main.js";
import { EINVAL } from "../include/linux/errno.js";
import type { kernel_param, module } from "../include/linux/module_types.js";
import { KERN_ERR, KERN_WARNING, printk } from "./printk/printk.js";

/** lib/kstrtox.c kstrtobool: y Y 1 on / n N 0 off (a bare "name" means true). */
export function kstrtobool(s: string): boolean | null {
  if (/^(y|Y|1|on)$/.test(s)) return true;
  if (/^(n|N|0|off)$/.test(s)) return false;
  return null;
}

/** lib/kstrtox.c kstrtoint, base 0: 0x hex, leading 0 octal, else decimal. */
export function kstrtoint(s: string): number | null {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (m === null) return null;
  const body = m[2];
  const v = /^0[xX]/.test(body) ? parseInt(body.slice(2), 16) : body.length > 1 ? parseInt(body, 8) : parseInt(body, 10);
  const r = m[1] === "-" ? -v : v;
  return r >= -0x80000000 && r <= 0x7fffffff ? r : null;
}

function param_set(p: kernel_param, val: string | null): boolean | number | null {
  if (p.type === "bool") return kstrtobool(val ?? "1");
  return val === null ? null : kstrtoint(val);
}

/** parse_args for a module: the parameters' values (defaults for those not given), or
 *  -EINVAL. */
export function parse_args(k: linux_kernel, mod: module, args: string): Map<string, boolean | number> | number {
  const values = new Map<string, boolean | number>();
  for (const p of mod.params ?? []) values.set(p.name, p.default);
  for (const word of args.split(/\s+/).filter((w) => w !== "")) {
    const eq = word.indexOf("=");
    const name = (eq < 0 ? word : word.slice(0, eq)).replace(/-/g, "_");
    const val = eq < 0 ? null : word.slice(eq + 1);
    const p = (mod.params ?? []).find((x) => x.name === name);
    if (p === undefined) {
      printk(k, KERN_WARNING, `${mod.name}: unknown parameter '${name}' ignored`);
      continue;
    }
    const v = param_set(p, val);
    if (v === null) {
      printk(k, KERN_ERR, `${mod.name}: \`${val ?? ""}' invalid for parameter \`${name}'`);
      return -EINVAL;
    }
    values.set(name, v);
  }
  return values;
}
