// kernel/module/main.c: insmod / rmmod of modules (init_module, delete_module), the
// module reference count (try_module_get / module_put, fops_get / fops_put through
// file_operations.owner), dependencies, and each loaded instance's static data.
//
// A module whose files are open holds references through fops->owner, so rmmod of a
// module in use fails with -EWOULDBLOCK ("Module kvm is in use"), as does rmmod of a
// module another loaded module depends on; a module without an exit function cannot be
// unloaded (-EBUSY). module_data is the instance's .data/.bss: created on first use,
// discarded at unload, so a reload starts from fresh static storage.

import type { linux_kernel } from "../../init/main.js";
import { EBUSY, EEXIST, ENOENT, EWOULDBLOCK } from "../../include/linux/errno.js";
import type { file_operations } from "../../include/linux/fs_types.js";
import type { module } from "../../include/linux/module_types.js";
import { BUG, WARN } from "../panic.js";
import { KERN_ERR, KERN_WARNING, printk } from "../printk/printk.js";
import { might_sleep } from "../sched/might_sleep.js";
import { parse_args } from "../params.js";

export const MODULE_STATE_LIVE = 0;
export const MODULE_STATE_COMING = 1;
export const MODULE_STATE_GOING = 2;

/** A loaded module (struct module of the kernel's module list). */
export class loaded_module {
  state = MODULE_STATE_COMING;
  /** References beyond the loader's own (module_refcount). */
  refcnt = 0;
  /** Modules that depend on this one (source_list). */
  readonly source_list = new Set<loaded_module>();
  /** Modules this one depends on (target_list). */
  readonly target_list = new Set<loaded_module>();
  /** Loaded only to satisfy a dependency (modprobe), removed with its last user. */
  auto = false;
  /** .data/.bss, keyed by the module name passed to module_data. */
  data: unknown = undefined;
  has_data = false;

  constructor(
    readonly mod: module,
    /** Its module_param values, set from the insmod arguments before init. */
    readonly params: ReadonlyMap<string, boolean | number>,
  ) {}

  get name(): string {
    return this.mod.name;
  }
}

export function find_module(k: linux_kernel, name: string): loaded_module | null {
  return k.modules.get(name) ?? null;
}

/** try_module_get: false for a module that is not live. */
export function try_module_get(k: linux_kernel, owner: module | null | undefined): boolean {
  if (owner === null || owner === undefined) return true;
  const m = find_module(k, owner.name);
  if (m === null || m.state === MODULE_STATE_GOING) return false;
  m.refcnt++;
  return true;
}

export function module_put(k: linux_kernel, owner: module | null | undefined): void {
  if (owner === null || owner === undefined) return;
  const m = find_module(k, owner.name);
  if (m === null) BUG(k, `module_put: module ${owner.name} is not loaded`);
  if (m.refcnt <= 0) WARN(k, "kernel/module/main.c module_put", `module ${m.name} refcount underflow`);
  else m.refcnt--;
}

/** fops_get: the operations with a reference on their module, or null. */
export function fops_get(k: linux_kernel, fops: file_operations): file_operations | null {
  return try_module_get(k, fops.owner) ? fops : null;
}

export function fops_put(k: linux_kernel, fops: file_operations): void {
  module_put(k, fops.owner);
}

/** init_module (insmod mod args): 0 or -errno. Dependencies must be loaded already. */
export async function load_module(k: linux_kernel, mod: module, args = ""): Promise<number> {
  might_sleep(k, "kernel/module/main.c:load_module");
  if (k.modules.has(mod.name)) return -EEXIST;
  const params = parse_args(k, mod, args);
  if (typeof params === "number") return params;
  const targets: loaded_module[] = [];
  for (const dep of mod.depends) {
    const t = find_module(k, dep);
    if (t === null || t.state !== MODULE_STATE_LIVE) {
      printk(k, KERN_WARNING, `${mod.name}: Unknown symbol in module ${dep} (err -2)`);
      return -ENOENT;
    }
    targets.push(t);
  }
  const m = new loaded_module(mod, params);
  k.modules.set(mod.name, m);
  for (const t of targets) {
    m.target_list.add(t);
    t.source_list.add(m);
  }
  let ret: number;
  try {
    ret = await mod.init();
  } catch (e) {
    free_module(k, m);
    throw e;
  }
  if (ret > 0) {
    printk(k, KERN_WARNING, `${mod.name}: 'init'->init suspiciously returned ${ret}, it should follow 0/-E convention`);
    ret = 0;
  }
  if (ret < 0) {
    printk(k, KERN_ERR, `${mod.name}: module init failed (err ${ret})`);
    m.state = MODULE_STATE_GOING;
    free_module(k, m);
    return ret;
  }
  m.state = MODULE_STATE_LIVE;
  return 0;
}

function free_module(k: linux_kernel, m: loaded_module): void {
  for (const t of m.target_list) t.source_list.delete(m);
  k.modules.delete(m.name);
  m.data = undefined;
  m.has_data = false;
}

/** modprobe: load `mod` (with `args`) after whatever of its dependencies `available`
 *  provides. */
export async function modprobe(k: linux_kernel, mod: module, available: readonly module[], args = ""): Promise<number> {
  for (const dep of mod.depends) {
    if (k.modules.has(dep)) continue;
    const image = available.find((a) => a.name === dep);
    if (image === undefined) {
      printk(k, KERN_WARNING, `modprobe: FATAL: Module ${dep} not found`);
      return -ENOENT;
    }
    const r = await modprobe(k, image, available);
    if (r < 0) return r;
    find_module(k, dep)!.auto = true;
  }
  return load_module(k, mod, args);
}

/** delete_module (rmmod, which passes O_NONBLOCK): 0 or -errno. */
export async function delete_module(k: linux_kernel, name: string): Promise<number> {
  might_sleep(k, "kernel/module/main.c:delete_module");
  const m = find_module(k, name);
  if (m === null) return -ENOENT;
  if (m.source_list.size > 0) return -EWOULDBLOCK;
  if (m.state !== MODULE_STATE_LIVE) return -EBUSY;
  if (m.mod.exit === null) return -EBUSY;
  if (m.refcnt !== 0) return -EWOULDBLOCK;
  m.state = MODULE_STATE_GOING;
  await m.mod.exit();
  free_module(k, m);
  // modprobe -r: dependencies loaded for this module go with their last user.
  for (const t of m.target_list) if (t.auto && t.source_list.size === 0) await delete_module(k, t.name);
  return 0;
}

/** A loaded module's parameter value (/sys/module/<mod>/parameters/<name>). */
export function module_param_value(k: linux_kernel, module_name: string, name: string): boolean | number {
  const m = find_module(k, module_name);
  if (m === null) BUG(k, `module_param: module ${module_name} is not loaded`);
  const v = m.params.get(name);
  if (v === undefined) BUG(k, `module_param: ${module_name} has no parameter ${name}`);
  return v;
}

/** The loaded instance's static storage. */
export function module_data<T>(k: linux_kernel, module_name: string, init: () => T): T {
  const m = find_module(k, module_name);
  if (m === null) BUG(k, `module_data: module ${module_name} is not loaded (its .data does not exist)`);
  if (!m.has_data) {
    m.data = init();
    m.has_data = true;
  }
  return m.data as T;
}
