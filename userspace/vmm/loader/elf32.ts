// The ELF32 structures a boot loader reads (System V ABI, Intel386 supplement; names as
// in <elf.h>): the file header and the program headers. Section headers play no part
// in loading.

export const ELFMAG = [0x7f, 0x45, 0x4c, 0x46]; // "\x7fELF"
export const ELFCLASS32 = 1;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;
export const ET_EXEC = 2;
export const EM_386 = 3;
export const PT_NULL = 0;
export const PT_LOAD = 1;
export const EHDR_SIZE = 52;
export const PHDR_SIZE = 32;

export interface Elf32_Ehdr {
  e_type: number;
  e_machine: number;
  e_version: number;
  e_entry: number;
  e_phoff: number;
  e_shoff: number;
  e_flags: number;
  e_ehsize: number;
  e_phentsize: number;
  e_phnum: number;
}

export interface Elf32_Phdr {
  p_type: number;
  p_offset: number;
  p_vaddr: number;
  p_paddr: number;
  p_filesz: number;
  p_memsz: number;
  p_flags: number;
  p_align: number;
}

export class ElfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ElfError";
  }
}

/** Parse and check the header of an i386 executable. */
export function elf32_ehdr(file: Uint8Array): Elf32_Ehdr {
  if (file.length < EHDR_SIZE || ELFMAG.some((b, i) => file[i] !== b)) throw new ElfError("not an ELF file");
  if (file[4] !== ELFCLASS32) throw new ElfError(`ELF class ${file[4]} is not ELFCLASS32`);
  if (file[5] !== ELFDATA2LSB) throw new ElfError(`ELF data encoding ${file[5]} is not ELFDATA2LSB`);
  if (file[6] !== EV_CURRENT) throw new ElfError(`ELF version ${file[6]} is not EV_CURRENT`);
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const h: Elf32_Ehdr = {
    e_type: v.getUint16(16, true),
    e_machine: v.getUint16(18, true),
    e_version: v.getUint32(20, true),
    e_entry: v.getUint32(24, true),
    e_phoff: v.getUint32(28, true),
    e_shoff: v.getUint32(32, true),
    e_flags: v.getUint32(36, true),
    e_ehsize: v.getUint16(40, true),
    e_phentsize: v.getUint16(42, true),
    e_phnum: v.getUint16(44, true),
  };
  if (h.e_type !== ET_EXEC) throw new ElfError(`ELF type ${h.e_type} is not ET_EXEC`);
  if (h.e_machine !== EM_386) throw new ElfError(`ELF machine ${h.e_machine} is not EM_386`);
  if (h.e_phnum === 0) throw new ElfError("no program headers");
  if (h.e_phentsize !== PHDR_SIZE) throw new ElfError(`e_phentsize ${h.e_phentsize} is not ${PHDR_SIZE}`);
  if (h.e_phoff + h.e_phnum * PHDR_SIZE > file.length) throw new ElfError("program headers lie beyond the end of the file");
  return h;
}

export function elf32_phdrs(file: Uint8Array, h: Elf32_Ehdr): Elf32_Phdr[] {
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const out: Elf32_Phdr[] = [];
  for (let i = 0; i < h.e_phnum; i++) {
    const o = h.e_phoff + i * PHDR_SIZE;
    out.push({
      p_type: v.getUint32(o, true),
      p_offset: v.getUint32(o + 4, true),
      p_vaddr: v.getUint32(o + 8, true),
      p_paddr: v.getUint32(o + 12, true),
      p_filesz: v.getUint32(o + 16, true),
      p_memsz: v.getUint32(o + 20, true),
      p_flags: v.getUint32(o + 24, true),
      p_align: v.getUint32(o + 28, true),
    });
  }
  return out;
}
