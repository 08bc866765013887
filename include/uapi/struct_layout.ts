// C struct layouts over @solana/buffer-layout: fields in declaration order with the
// padding a C compiler inserts spelled out, so every offset can be checked against
// the real header (test/uapi/kvm_header.test.ts compiles a gcc probe).

import { Layout, Structure, blob, struct, u8, u16, u32, seq } from "@solana/buffer-layout";

/** An unsigned 64-bit little-endian field, as bigint (C __u64). */
class U64 extends Layout<bigint> {
  constructor(property?: string) {
    super(8, property);
  }
  override decode(b: Uint8Array, offset = 0): bigint {
    return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(offset, true);
  }
  override encode(src: bigint, b: Uint8Array, offset = 0): number {
    new DataView(b.buffer, b.byteOffset, b.byteLength).setBigUint64(offset, BigInt.asUintN(64, src), true);
    return 8;
  }
}

export const u64 = (property?: string) => new U64(property);
/** Padding bytes a C compiler inserts (or an explicit padN[] member). */
export const pad = (n: number, property: string) => blob(n, property);
export { Layout, Structure, blob, struct, u8, u16, u32, seq };

/** Encode an object into a fresh buffer of the layout's size. */
export function encode<T>(layout: Layout<T>, value: T): Uint8Array {
  const b = new Uint8Array(layout.span);
  layout.encode(value, b, 0);
  return b;
}
