// sys/kern/kern_module.c, sys/sys/module.h: modules inside kld files. A kld declares
// modules (DECLARE_MODULE with an event handler), their versions (MODULE_VERSION) and
// the modules it needs (MODULE_DEPEND); the linker sends MOD_LOAD on load and
// MOD_QUIESCE then MOD_UNLOAD on unload.

import type { linker_file } from "./kern_linker.js";

export const MOD_LOAD = 0;
export const MOD_UNLOAD = 1;
export const MOD_SHUTDOWN = 2;
export const MOD_QUIESCE = 3;

export type modeventtype_t = typeof MOD_LOAD | typeof MOD_UNLOAD | typeof MOD_SHUTDOWN | typeof MOD_QUIESCE;

/** struct moduledata: name, event handler (0 or a positive errno), private argument. */
export interface moduledata {
  readonly name: string;
  readonly evhand: (mod: module_t, what: modeventtype_t, arg: unknown) => Promise<number>;
  readonly priv?: unknown;
}

/** MODULE_DEPEND(module, depends_on, min, preferred, max). */
export interface mod_depend {
  readonly md_name: string;
  readonly md_ver_minimum: number;
  readonly md_ver_preferred: number;
  readonly md_ver_maximum: number;
}

export const MODULE_DEPEND = (depends_on: string, min = 1, pref = 1, max = 1): mod_depend => ({
  md_name: depends_on,
  md_ver_minimum: min,
  md_ver_preferred: pref,
  md_ver_maximum: max,
});

/** A module as the kernel registers it. */
export class module_t {
  state: "MS_LOADING" | "MS_LOADED" | "MS_UNLOADING" = "MS_LOADING";
  constructor(
    readonly name: string,
    readonly version: number,
    readonly data: moduledata,
    readonly file: linker_file,
  ) {}
}

export const module_getname = (mod: module_t): string => mod.name;
