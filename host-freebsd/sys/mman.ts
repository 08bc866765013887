// sys/sys/mman.h.

export const PROT_NONE = 0x00;
export const PROT_READ = 0x01;
export const PROT_WRITE = 0x02;
export const PROT_EXEC = 0x04;
export const MAP_SHARED = 0x0001;
export const MAP_PRIVATE = 0x0002;
export const MAP_FIXED = 0x0010;
export const MAP_ANON = 0x1000;
export const MAP_ANONYMOUS = MAP_ANON;
export const MAP_FAILED = -1;
