// Instruction lengths and memory-operand presence from our decoder against iced-x86 over
// random byte strings, in 16- and 32-bit code. Only instructions our decoder accepts
// (CLS_OK: not #UD, not x87/SSE) are compared: for those, iced must agree they are valid
// and have the same length. fast-check prints the seed and the counterexample on failure.
import { describe, it } from "vitest";
import fc from "fast-check";
import iced from "iced-x86";
import { CLS_OK, CLS_X87, decode_bytes } from "../../machine/x86/decode.js";

const { Decoder, DecoderOptions, Code, OpKind } = iced;

function iced_decode(bytes: Uint8Array, bits: 16 | 32): { len: number; invalid: boolean; mem: boolean } {
  const dec = new Decoder(bits, bytes, DecoderOptions.None);
  const ins = dec.decode();
  let mem = false;
  for (let i = 0; i < ins.opCount; i++) if (ins.opKind(i) === OpKind.Memory) mem = true;
  const r = { len: ins.length, invalid: ins.code === Code.INVALID, mem };
  ins.free();
  dec.free();
  return r;
}

function check(bytes: Uint8Array, code32: boolean): boolean {
  const d = decode_bytes(bytes, code32);
  if (d === null || (d.cls !== CLS_OK && d.cls !== CLS_X87)) return true;
  const r = iced_decode(bytes, code32 ? 32 : 16);
  // x87 escapes always fault here (no FPU); iced knows which register forms are reserved.
  if (d.cls === CLS_X87 && r.invalid) return true;
  if (r.invalid) throw new Error(`iced rejects what we accept: opcode ${d.opcode.toString(16)} len ${d.len}`);
  if (r.len !== d.len) throw new Error(`length ${d.len}, iced ${r.len} (opcode ${d.opcode.toString(16)})`);
  const moffs = d.opcode >= 0xa0 && d.opcode <= 0xa3;
  // MOV CR/DR always take a register operand; XLAT has an implicit memory operand in iced.
  const creg = (d.opcode >= 0x120 && d.opcode <= 0x123) || d.opcode === 0xd7;
  if (d.cls === CLS_OK && !creg && ((d.has_modrm && d.mod !== 3) || moffs) !== r.mem)
    throw new Error(`memory operand ${d.mod !== 3 || moffs}, iced ${r.mem} (opcode ${d.opcode.toString(16)})`);
  return true;
}

// Bias towards interesting first bytes: prefixes, the 0F escape, ModR/M-heavy opcodes.
const insn_bytes = fc.tuple(
  fc.array(fc.constantFrom(0x66, 0x67, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0xf2, 0xf3), { maxLength: 3 }),
  fc.oneof(fc.constant([0x0f]), fc.constant([] as number[])),
  fc.uint8Array({ minLength: 14, maxLength: 14 }),
).map(([p, esc, rest]) => Uint8Array.from([...p, ...esc, ...rest]).slice(0, 15));

describe("decoder vs iced-x86", () => {
  it("agrees on length and memory operands in 16-bit code", () => {
    fc.assert(fc.property(insn_bytes, (b) => check(b, false)), { numRuns: 20000 });
  });
  it("agrees on length and memory operands in 32-bit code", () => {
    fc.assert(fc.property(insn_bytes, (b) => check(b, true)), { numRuns: 20000 });
  });
});
