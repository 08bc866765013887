// The linuxkpi kld's static data (what LinuxKPI keeps in file-scope variables of
// linux_compat.c and friends), one instance per load into a kernel: created by the
// kld's MOD_LOAD, reached by the shim's functions through the exported API object.

import type { kernel } from "../../host-freebsd/sys/kernel.js";
import { MALLOC_DEFINE } from "../../host-freebsd/sys/malloc.js";
import type { cdev } from "../../host-freebsd/sys/conf.js";
import type { fileops } from "../../host-freebsd/sys/file.js";
import type { vm_page } from "../../host-freebsd/vm/vm_page.js";
import type { Kva } from "../../machine/addr.js";
import type { miscdevice } from "../linux/miscdevice_types.js";
import type { inode } from "../linux/fs_types.js";
import type { module } from "../linux/module_types.js";
import type { LinuxkpiConfig } from "./linux_config.js";
import type { sysctl_oid } from "../../host-freebsd/sys/sysctl.js";

/** A Linux module loaded through linux_kld, with its use count (try_module_get). */
export interface linux_module_instance {
  readonly mod: module;
  /** module_param values, from the compat.linuxkpi.<module>_<name> tunables. */
  readonly params: ReadonlyMap<string, boolean | number>;
  refcnt: number;
  state: "MODULE_STATE_COMING" | "MODULE_STATE_LIVE" | "MODULE_STATE_GOING";
}

export class linux_inode implements inode {
  i_private: unknown = null;
  constructor(
    readonly i_ino: number,
    readonly i_rdev: number,
  ) {}
}

export class linuxkpi_state {
  readonly M_KMALLOC = MALLOC_DEFINE("lkpikmalloc", "Linux kmalloc compat");
  readonly M_LKPI = MALLOC_DEFINE("lkpi", "LinuxKPI internal");
  /** module_data: per loaded Linux module, its static storage. */
  readonly module_data = new Map<string, unknown>();
  readonly modules = new Map<string, linux_module_instance>();
  /** compat.linuxkpi: the sysctl node of module parameters. */
  sysctl_node: sysctl_oid | null = null;
  /** misc devices registered, with their cdev. */
  readonly misc = new Map<miscdevice, { dev: cdev; inode: linux_inode }>();
  /** Dynamic misc minors in use (Linux hands them out from 63 down). */
  readonly misc_minors = new Set<number>();
  /** misc devices open now (misc_open "exclusive": at most one open each). */
  readonly misc_open_files = new Set<miscdevice>();
  readonly anon_inode: linux_inode;
  next_ino = 2;
  /** 2007 port's alloc_pages: pfn -> page for the pages the shim handed out. */
  readonly page_hash = new Map<number, vm_page>();
  /** linux_kfree_async: frees queued from critical sections, drained by the task. */
  readonly deferred_free: Kva[] = [];
  /** The deferred-free task thread runs while this is true. */
  taskq_running = false;
  taskq_exited = true;
  /** linuxfileops, bound to this instance (created on first use). */
  linuxfileops: fileops | null = null;
  constructor(
    readonly k: kernel,
    readonly config: LinuxkpiConfig,
  ) {
    this.anon_inode = new linux_inode(1, 0);
  }
}
