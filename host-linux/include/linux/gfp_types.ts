// include/linux/gfp_types.h: allocation flags, with Linux 6.x's ___GFP_* bit values for
// the flags this kernel implements; any other flag fails loudly with its name.

export type gfp_t = number;

export const ___GFP_DMA = 0x01;
export const ___GFP_HIGHMEM = 0x02;
export const ___GFP_DMA32 = 0x04;
export const ___GFP_HIGH = 0x20;
export const ___GFP_IO = 0x40;
export const ___GFP_FS = 0x80;
export const ___GFP_ZERO = 0x100;
export const ___GFP_DIRECT_RECLAIM = 0x400;
export const ___GFP_KSWAPD_RECLAIM = 0x800;
export const ___GFP_NOWARN = 0x2000;
export const ___GFP_NORETRY = 0x8000;
export const ___GFP_ACCOUNT = 0x400000;

export const __GFP_DMA = ___GFP_DMA;
export const __GFP_HIGHMEM = ___GFP_HIGHMEM;
export const __GFP_DMA32 = ___GFP_DMA32;
export const __GFP_HIGH = ___GFP_HIGH;
export const __GFP_IO = ___GFP_IO;
export const __GFP_FS = ___GFP_FS;
export const __GFP_ZERO = ___GFP_ZERO;
export const __GFP_DIRECT_RECLAIM = ___GFP_DIRECT_RECLAIM;
export const __GFP_KSWAPD_RECLAIM = ___GFP_KSWAPD_RECLAIM;
export const __GFP_RECLAIM = ___GFP_DIRECT_RECLAIM | ___GFP_KSWAPD_RECLAIM;
export const __GFP_NOWARN = ___GFP_NOWARN;
export const __GFP_NORETRY = ___GFP_NORETRY;
export const __GFP_ACCOUNT = ___GFP_ACCOUNT;
/** 2.6-era name for "may sleep": today's __GFP_DIRECT_RECLAIM. */
export const __GFP_WAIT = __GFP_DIRECT_RECLAIM;

export const GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;
export const GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
export const GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT;
export const GFP_NOWAIT = __GFP_KSWAPD_RECLAIM;
export const GFP_HIGHUSER = GFP_KERNEL | __GFP_HIGHMEM;

/** gfpflags_allow_blocking: may an allocation with these flags sleep? */
export const gfpflags_allow_blocking = (flags: gfp_t) => (flags & __GFP_DIRECT_RECLAIM) !== 0;

/** Flags every implementation in this model understands; others must be rejected by name. */
export const GFP_KNOWN_FLAGS =
  __GFP_DMA32 | __GFP_HIGHMEM | __GFP_HIGH | __GFP_IO | __GFP_FS | __GFP_ZERO | __GFP_RECLAIM | __GFP_NOWARN | __GFP_NORETRY | __GFP_ACCOUNT;

const NAMES: [number, string][] = [
  [___GFP_DMA, "__GFP_DMA"], [___GFP_HIGHMEM, "__GFP_HIGHMEM"], [___GFP_DMA32, "__GFP_DMA32"],
  [___GFP_HIGH, "__GFP_HIGH"], [___GFP_IO, "__GFP_IO"], [___GFP_FS, "__GFP_FS"], [___GFP_ZERO, "__GFP_ZERO"],
  [___GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"], [___GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"],
  [___GFP_NOWARN, "__GFP_NOWARN"], [___GFP_NORETRY, "__GFP_NORETRY"], [___GFP_ACCOUNT, "__GFP_ACCOUNT"],
];

/** Names of the bits set in flags, for messages ("GFP 0x... = __GFP_IO|..."). */
export function gfp_names(flags: gfp_t): string {
  const out: string[] = [];
  let rest = flags;
  for (const [bit, name] of NAMES)
    if (flags & bit) {
      out.push(name);
      rest &= ~bit;
    }
  if (rest) out.push(`0x${rest.toString(16)}`);
  return out.join("|") || "0";
}
