// sys/sys/malloc.h: malloc(9) flags and malloc types.

export const M_NOWAIT = 0x0001;
export const M_WAITOK = 0x0002;
export const M_ZERO = 0x0100;
export const M_NOVM = 0x0200;
export const M_USE_RESERVE = 0x0400;
export const M_NODUMP = 0x0800;
export const M_FIRSTFIT = 0x1000;
export const M_BESTFIT = 0x2000;
export const M_EXEC = 0x4000;

/** MALLOC_DEFINE: a named malloc type with its statistics. */
export class malloc_type {
  ks_calls = 0;
  ks_memuse = 0;
  ks_inuse = 0;
  constructor(
    readonly ks_shortdesc: string,
    readonly ks_longdesc: string,
  ) {}
}
export const MALLOC_DEFINE = (name: string, desc: string) => new malloc_type(name, desc);
