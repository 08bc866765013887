// How the instruction emulator stops partway through an instruction. These are thrown
// inside the emulator and caught by its driver (x86_emulate.ts), never seen by callers:
//
//   x86_emul_fault        an exception the guest must take (fault semantics: the current
//                         iteration commits nothing, EIP stays on the instruction)
//   x86_emul_unhandleable the emulator cannot do this instruction (kvm reports
//                         KVM_EXIT_INTERNAL_ERROR / KVM_INTERNAL_ERROR_EMULATION)
//   x86_emul_suspend      an MMIO read must go to the VMM before the iteration can finish
//
// Vector numbers per Intel SDM Vol. 3A Table 6-1.

export const UD_VECTOR = 6, SS_VECTOR = 12, GP_VECTOR = 13, PF_VECTOR = 14;

export class x86_emul_fault {
  constructor(
    readonly vector: number,
    /** null for vectors without an error code (#UD). */
    readonly error_code: number | null,
    /** Faulting linear address, for #PF. */
    readonly cr2?: number,
  ) {}
}

export class x86_emul_unhandleable {
  constructor(readonly why: string) {}
}

export class x86_emul_suspend {
  constructor(
    readonly gpa: number,
    readonly len: number,
  ) {}
}

export function emul_gp0(): never {
  throw new x86_emul_fault(GP_VECTOR, 0);
}

export function emul_ud(): never {
  throw new x86_emul_fault(UD_VECTOR, null);
}

export function emul_unhandleable(why: string): never {
  throw new x86_emul_unhandleable(why);
}
