// sys/kern/kern_linker.c, reduced: loading and unloading kld files.
//
// A kld image (what a .ko file holds) is a name, the modules it declares with their
// versions, and its MODULE_DEPEND list. kern_kldload resolves each dependency to the
// loaded module of that name, or loads the installed image that declares it first;
// then it registers the file's modules and runs their MOD_LOAD handlers in order. A
// failing handler unloads what this load did and fails the load.
//
// Symbols: a file may export symbols while its modules load (linker_file_export_symbol);
// the kernel's symbol table (machine.kernel_symbols) answers from the files loaded.
//
// Unloading refuses with EBUSY while another loaded file depends on the file, or when
// a module's MOD_QUIESCE/MOD_UNLOAD says it is in use. Dependencies that were loaded
// only because of a file go when it goes.

import { curkernel } from "../sys/pcpu.js";
import { EBUSY, EDEADLK, EEXIST, ENOENT } from "../sys/errno.js";
import type { kernel } from "../sys/kernel.js";
import type { thread } from "../sys/proc.js";
import { sx, sx_init, sx_xlock, sx_xunlock } from "./kern_sx.js";
import { printf } from "./subr_prf.js";
import { MOD_LOAD, MOD_QUIESCE, MOD_UNLOAD, module_t, type mod_depend, type moduledata } from "./kern_module.js";

export interface kld_image {
  /** File name without ".ko". */
  readonly name: string;
  /** DECLARE_MODULE entries with MODULE_VERSION. */
  readonly modules: readonly { readonly data: moduledata; readonly version: number }[];
  readonly depends: readonly mod_depend[];
}

export class linker_file {
  /** One for being loaded by the user, one per dependent file. */
  refs = 0;
  userrefs = 0;
  readonly deps: linker_file[] = [];
  readonly modules: module_t[] = [];
  readonly symbols = new Map<string, unknown>();
  constructor(
    readonly filename: string,
    readonly image: kld_image,
    readonly id: number,
  ) {}
}

export class linker_state {
  readonly installed = new Map<string, kld_image>();
  readonly files: linker_file[] = [];
  readonly modules = new Map<string, module_t>();
  readonly kld_sx = new sx("kernel linker");
  next_fileid = 2;
  /** Files being loaded, for dependency cycles. */
  readonly loading = new Set<string>();
}

export function linker_init(k: kernel): void {
  if (k.linker === undefined) k.linker = new linker_state();
  sx_init(k.linker.kld_sx, "kernel linker");
}

/** Install an image so kldload can find it (copying the .ko into /boot/kernel). */
export function linker_install_image(k: kernel, image: kld_image): void {
  if (k.linker === undefined) k.linker = new linker_state();
  k.linker.installed.set(image.name.replace(/\.ko$/, ""), image);
}

/** The kernel's symbol table: symbols exported by loaded (or loading) files. */
export function linker_kernel_symbol(k: kernel, name: string): unknown {
  if (k.linker === undefined) return undefined;
  for (const lf of k.linker.files) if (lf.symbols.has(name)) return lf.symbols.get(name);
  return undefined;
}

/** Called by a module's MOD_LOAD handler to publish a symbol of its file. */
export function linker_file_export_symbol(lf: linker_file, name: string, value: unknown): void {
  lf.symbols.set(name, value);
}

/** kldfind(2): the id of the loaded file `name`, or -1. */
export function kern_kldfind(name: string): number {
  return linker_find_file(curkernel(), name)?.id ?? -1;
}

export const linker_find_file = (k: kernel, name: string): linker_file | null =>
  k.linker.files.find((f) => f.filename === name.replace(/\.ko$/, "")) ?? null;

function image_declaring(k: kernel, modname: string): kld_image | null {
  for (const img of k.linker.installed.values()) if (img.modules.some((m) => m.data.name === modname)) return img;
  return null;
}

/** linker_file_unload: drop one reference; the last one unloads (MOD_UNLOAD already
 *  succeeded for explicit unloads) and releases the dependencies. */
async function linker_file_release(k: kernel, lf: linker_file): Promise<void> {
  if (--lf.refs > 0) return;
  for (const mod of [...lf.modules].reverse()) {
    if (mod.state !== "MS_LOADED") continue;
    const error = await mod.data.evhand(mod, MOD_UNLOAD, mod.data.priv);
    if (error !== 0) {
      // A module that refuses keeps its file loaded (now owned by no one).
      printf(`linker_file_unload: ${mod.name} refused MOD_UNLOAD (error ${error}); ${lf.filename}.ko stays loaded\n`);
      lf.refs = 1;
      lf.userrefs = 1;
      return;
    }
    mod.state = "MS_UNLOADING";
  }
  for (const mod of lf.modules) k.linker.modules.delete(mod.name);
  const i = k.linker.files.indexOf(lf);
  if (i >= 0) k.linker.files.splice(i, 1);
  lf.symbols.clear();
  for (const dep of lf.deps) await linker_file_release(k, dep);
}

async function linker_load_file(k: kernel, name: string): Promise<{ error: number; lf: linker_file | null }> {
  const ls = k.linker;
  const image = ls.installed.get(name);
  if (image === undefined) {
    printf(`linker_load_file: can't find file ${name}.ko\n`);
    return { error: ENOENT, lf: null };
  }
  if (ls.loading.has(name)) {
    printf(`KLD ${name}.ko: circular dependency\n`);
    return { error: EDEADLK, lf: null };
  }
  for (const m of image.modules)
    if (ls.modules.has(m.data.name)) {
      printf(`module_register: cannot register ${m.data.name} from ${name}.ko; already loaded from ${ls.modules.get(m.data.name)!.file.filename}.ko\n`);
      return { error: EEXIST, lf: null };
    }
  ls.loading.add(name);
  const lf = new linker_file(name, image, ls.next_fileid++);
  lf.refs = 1;
  try {
    // linker_load_dependencies.
    for (const d of image.depends) {
      if (image.modules.some((m) => m.data.name === d.md_name)) continue;
      let mod = ls.modules.get(d.md_name);
      if (mod === undefined) {
        const depimg = image_declaring(k, d.md_name);
        if (depimg === null) {
          printf(`KLD ${name}.ko: depends on ${d.md_name} - not available or version mismatch\n`);
          await unwind(k, lf);
          return { error: ENOENT, lf: null };
        }
        const r = await linker_load_file(k, depimg.name.replace(/\.ko$/, ""));
        if (r.error !== 0) {
          await unwind(k, lf);
          return { error: r.error, lf: null };
        }
        // The new file's own reference becomes this dependent's reference.
        lf.deps.push(r.lf!);
        mod = ls.modules.get(d.md_name);
      } else {
        mod.file.refs++;
        lf.deps.push(mod.file);
      }
      if (mod === undefined || mod.version < d.md_ver_minimum || mod.version > d.md_ver_maximum) {
        printf(`KLD ${name}.ko: depends on ${d.md_name} - not available or version mismatch\n`);
        await unwind(k, lf);
        return { error: ENOENT, lf: null };
      }
    }
    // Register the modules, then MOD_LOAD each (module_register_init).
    ls.files.push(lf);
    for (const m of image.modules) {
      const mod = new module_t(m.data.name, m.version, m.data, lf);
      lf.modules.push(mod);
      ls.modules.set(mod.name, mod);
    }
    for (const mod of lf.modules) {
      const error = await mod.data.evhand(mod, MOD_LOAD, mod.data.priv);
      if (error !== 0) {
        printf(`module_register_init: MOD_LOAD (${mod.name}) error ${error}\n`);
        mod.state = "MS_UNLOADING";
        await linker_file_release(k, lf);
        return { error, lf: null };
      }
      mod.state = "MS_LOADED";
    }
    return { error: 0, lf };
  } finally {
    ls.loading.delete(name);
  }
}

async function unwind(k: kernel, lf: linker_file): Promise<void> {
  for (const dep of lf.deps) await linker_file_release(k, dep);
  lf.deps.length = 0;
}

/** kern_kldload: load a kld by file name (with or without .ko): 0 and its file id, or
 *  an errno (EEXIST if already loaded). */
export async function kern_kldload(_td: thread, file: string): Promise<{ error: number; fileid: number }> {
  const k = curkernel();
  const ls = k.linker;
  const fname = file.replace(/\.ko$/, "");
  await sx_xlock(ls.kld_sx);
  try {
    const existing = linker_find_file(k, fname);
    if (existing !== null) return { error: EEXIST, fileid: existing.id };
    const r = await linker_load_file(k, fname);
    if (r.error !== 0) return { error: r.error, fileid: -1 };
    r.lf!.userrefs++;
    printf(`KLD ${fname}.ko: loaded (file id ${r.lf!.id})\n`);
    return { error: 0, fileid: r.lf!.id };
  } finally {
    sx_xunlock(ls.kld_sx);
  }
}

/** kern_kldunload: unload the file with id `fileid`: 0; ENOENT if there is none; EBUSY
 *  while it is in use. */
export async function kern_kldunload(_td: thread, fileid: number): Promise<number> {
  const k = curkernel();
  const ls = k.linker;
  await sx_xlock(ls.kld_sx);
  try {
    const lf = ls.files.find((f) => f.id === fileid) ?? null;
    if (lf === null) return ENOENT;
    const dependents = ls.files.filter((f) => f.deps.includes(lf));
    if (dependents.length > 0) {
      printf(`kldunload: ${lf.filename}.ko is in use by ${dependents.map((f) => f.filename + ".ko").join(", ")}\n`);
      return EBUSY;
    }
    if (lf.userrefs === 0) {
      printf(`kldunload: attempt to unload file that was loaded by the kernel\n`);
      return EBUSY;
    }
    // MOD_QUIESCE then MOD_UNLOAD, last module first; a refusal aborts the unload.
    for (const mod of [...lf.modules].reverse()) {
      let error = await mod.data.evhand(mod, MOD_QUIESCE, mod.data.priv);
      if (error === 0) error = await mod.data.evhand(mod, MOD_UNLOAD, mod.data.priv);
      if (error !== 0) {
        printf(`kldunload: ${mod.name} refused to unload (error ${error})\n`);
        return error;
      }
      mod.state = "MS_UNLOADING";
    }
    lf.userrefs--;
    await linker_file_release(k, lf);
    printf(`KLD ${lf.filename}.ko: unloaded\n`);
    return 0;
  } finally {
    sx_xunlock(ls.kld_sx);
  }
}
