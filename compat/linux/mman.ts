// include/uapi/asm-generic/mman-common.h, mman.h: the protections and mapping types
// vm_mmap takes (the values of mmap(2) on Linux).

export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_TYPE = 0x0f;
