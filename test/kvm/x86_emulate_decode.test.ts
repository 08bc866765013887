// The emulator's decoder against iced-x86: for random byte strings the decoder accepts
// (it refuses unsupported opcodes), iced must see a valid instruction of the same length,
// in 16- and 32-bit code. fast-check prints the seed and the counterexample on failure.
import { describe, it } from "vitest";
import fc from "fast-check";
import iced from "iced-x86";
import { x86_decode_insn } from "../../kvm/x86_emulate_decode.js";
import { x86_emul_unhandleable } from "../../kvm/x86_emulate_fault.js";

const { Decoder, DecoderOptions, Code } = iced;

function check(bytes: Uint8Array, code32: boolean): boolean {
  let len: number;
  try {
    len = x86_decode_insn({ byte: (i) => bytes[i] }, code32).len;
  } catch (e) {
    if (e instanceof x86_emul_unhandleable) return true;
    // #GP for a 16th byte: iced must agree the bytes are no instruction.
    const dec = new Decoder(code32 ? 32 : 16, bytes, DecoderOptions.None);
    const ins = dec.decode();
    const invalid = ins.code === Code.INVALID;
    ins.free(); dec.free();
    if (!invalid) throw new Error("decoder faulted where iced decodes an instruction");
    return true;
  }
  const dec = new Decoder(code32 ? 32 : 16, bytes, DecoderOptions.None);
  const ins = dec.decode();
  const r = { len: ins.length, invalid: ins.code === Code.INVALID };
  ins.free(); dec.free();
  // iced rejects the #UD forms (LOCK misuse, C6 /1...) that the executor reports as #UD.
  if (r.invalid) return true;
  if (r.len !== len) throw new Error(`length ${len}, iced ${r.len}`);
  return true;
}

// Bias towards prefixes and the opcodes the emulator supports.
const supported = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x28, 0x29, 0x2b, 0x38, 0x39, 0x3d, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
  0x88, 0x89, 0x8a, 0x8b, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
  0xc6, 0xc7, 0xf6, 0xf7, 0xfe, 0xff];
const insn_bytes = fc.tuple(
  fc.array(fc.constantFrom(0x66, 0x67, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0xf2, 0xf3, 0xf0), { maxLength: 4 }),
  fc.oneof(fc.constantFrom(...supported).map((b) => [b]), fc.constantFrom(0xb6, 0xb7, 0xbe, 0xbf).map((b) => [0x0f, b])),
  fc.uint8Array({ minLength: 14, maxLength: 14 }),
).map(([p, op, rest]) => Uint8Array.from([...p, ...op, ...rest]).slice(0, 15));

describe("x86_emulate decoder vs iced-x86", () => {
  it("agrees on lengths in 16-bit code", () => {
    fc.assert(fc.property(insn_bytes, (b) => check(b, false)), { numRuns: 10000 });
  });
  it("agrees on lengths in 32-bit code", () => {
    fc.assert(fc.property(insn_bytes, (b) => check(b, true)), { numRuns: 10000 });
  });
});
