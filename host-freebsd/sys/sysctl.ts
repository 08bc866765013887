// sys/sys/sysctl.h: the MIB tree's node kinds and flags, and the request a handler sees.

export const CTLTYPE = 0xf;
export const CTLTYPE_NODE = 1;
export const CTLTYPE_STRING = 3;
export const CTLTYPE_U64 = 9;

export const CTLFLAG_RD = 0x80000000;
export const CTLFLAG_WR = 0x40000000;
export const CTLFLAG_RW = CTLFLAG_RD | CTLFLAG_WR;
export const CTLFLAG_MPSAFE = 0x00040000;

/** First number handed to a dynamic OID (OID_AUTO), as sysctl_register_oid does. */
export const CTL_AUTO_START = 0x100;

/** struct sysctl_req: the caller's old (result) and new (value to set) buffers, in user
 *  space. oldidx counts every byte the handler produced, copied or not. */
export interface sysctl_req {
  readonly oldptr: number;
  readonly oldlen: number;
  oldidx: number;
  readonly newptr: number;
  readonly newlen: number;
  newidx: number;
}

/** A handler: 0 or a positive errno. */
export type sysctl_handler_t = (oidp: sysctl_oid, arg1: unknown, req: sysctl_req) => Promise<number>;

/** struct sysctl_oid. Children of a node by name, in creation order. */
export interface sysctl_oid {
  readonly oid_parent: sysctl_oid | null;
  readonly oid_name: string;
  readonly oid_number: number;
  readonly oid_kind: number;
  readonly oid_arg1: unknown;
  readonly oid_handler: sysctl_handler_t | null;
  readonly oid_descr: string;
  readonly oid_children: Map<string, sysctl_oid>;
  /** Handlers running now (oid_running); removal waits for it to drop to 0. */
  oid_running: number;
  /** Unlinked by sysctl_remove_oid. */
  removed: boolean;
}

/** The kernel's MIB: sysctl__children, with the static top-level nodes. */
export interface sysctl_state {
  readonly root: sysctl_oid;
  next_oid_number: number;
}
