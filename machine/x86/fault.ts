// Processor exceptions as the interpreter raises them. An instruction that detects a
// fault throws an X86Fault before it commits any architectural state (faults restart
// the instruction: EIP still names it); exceptions.ts delivers it or turns it into a
// VM exit. Vector numbers and which of them push an error code are per Intel SDM
// Vol. 3A, Table 6-1.

export const DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8;
export const TS = 10, NP = 11, SS_ = 12, GP = 13, PF = 14, MF = 16, AC = 17;

/** Vectors that push an error code when delivered as exceptions (#DF #TS #NP #SS #GP #PF #AC). */
export function has_error_code(vector: number): boolean {
  return vector === DF || (vector >= TS && vector <= PF) || vector === AC;
}

export class X86Fault {
  constructor(
    readonly vector: number,
    /** null for exceptions without an error code. */
    readonly error_code: number | null,
    /** Faulting linear address, for #PF only. */
    readonly cr2 = 0,
  ) {}
}

export function fault(vector: number, error_code: number | null = null): never {
  throw new X86Fault(vector, has_error_code(vector) ? (error_code ?? 0) : null);
}
export const gp = (ec = 0): never => fault(GP, ec);
export const ss_fault = (ec = 0): never => fault(SS_, ec);
export const ud = (): never => fault(UD);
export const np = (ec: number): never => fault(NP, ec);
export const ts = (ec: number): never => fault(TS, ec);
export function page_fault(lin: number, error_code: number): never {
  throw new X86Fault(PF, error_code, lin >>> 0);
}
