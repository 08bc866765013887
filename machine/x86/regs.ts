// General-purpose register access by encoding: with 8-bit operands, register numbers 0-3
// name AL CL DL BL (bits 7:0 of EAX..EBX) and 4-7 name AH CH DH BH (bits 15:8 of EAX..EBX).
// A 16-bit write leaves bits 31:16 unchanged.

export function reg_get(g: Uint32Array, r: number, size: number): number {
  if (size === 4) return g[r];
  if (size === 2) return g[r] & 0xffff;
  return r < 4 ? g[r] & 0xff : (g[r - 4] >>> 8) & 0xff;
}

export function reg_set(g: Uint32Array, r: number, size: number, v: number): void {
  if (size === 4) g[r] = v;
  else if (size === 2) g[r] = (g[r] & 0xffff0000) | (v & 0xffff);
  else if (r < 4) g[r] = (g[r] & 0xffffff00) | (v & 0xff);
  else g[r - 4] = (g[r - 4] & 0xffff00ff) | ((v & 0xff) << 8);
}
