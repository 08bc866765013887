// include/linux/gfp.h on FreeBSD: GFP flags to malloc(9)/vm_page_alloc flags.
//   GFP_KERNEL (may reclaim) -> M_WAITOK; anything that may not block -> M_NOWAIT;
//   __GFP_ZERO -> M_ZERO. Exactly one of M_WAITOK/M_NOWAIT always results.
// Flags the model does not implement fail loudly with their names.

import { GFP_KNOWN_FLAGS, gfp_names, gfpflags_allow_blocking, __GFP_ZERO, type gfp_t } from "../linux/gfp_types.js";
import { M_NOWAIT, M_WAITOK, M_ZERO } from "../../host-freebsd/sys/malloc.js";
import { panic } from "../../host-freebsd/kern/kern_shutdown.js";

export function linux_check_m_flags(flags: gfp_t, what: string): number {
  const unknown = flags & ~GFP_KNOWN_FLAGS;
  if (unknown !== 0) panic(`${what}: unsupported GFP flags ${gfp_names(unknown)} (in ${gfp_names(flags)})`);
  // DIVERGENCE: GFP_ATOMIC's __GFP_HIGH (use emergency reserves) has no M_USE_RESERVE
  // counterpart here; an atomic allocation is a plain M_NOWAIT one.
  return (gfpflags_allow_blocking(flags) ? M_WAITOK : M_NOWAIT) | (flags & __GFP_ZERO ? M_ZERO : 0);
}
