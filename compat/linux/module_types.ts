// include/linux/module.h: struct module as the loader sees it. A module image carries
// its init and exit functions (module_init/module_exit) and the modules it depends on.

/** module_param(name, type, perm) with MODULE_PARM_DESC. */
export interface kernel_param {
  readonly name: string;
  readonly type: "bool" | "int";
  readonly default: boolean | number;
  /** Permission bits of /sys/module/<mod>/parameters/<name> (0444 read-only). */
  readonly perm: number;
  readonly description: string;
}

export interface module {
  readonly name: string;
  readonly license: string;
  readonly description: string;
  /** Names of modules that must be loaded first (MODULE_SOFTDEP / symbol dependencies). */
  readonly depends: readonly string[];
  /** module_init: 0 or -errno. */
  readonly init: () => Promise<number>;
  /** module_param declarations; absent means none. */
  readonly params?: readonly kernel_param[];
  /** module_exit, or null for a module that cannot be unloaded. */
  readonly exit: (() => Promise<void>) | null;
}
