// The address kinds of an x86 PC running a hypervisor. Each is a number with a
// compile-time brand, so that a guest-physical address cannot be passed where a
// host-physical one is expected: raw numbers do not cross a layer.
//
//   Gva  guest virtual (linear) address, translated by the guest's page tables
//   Gpa  guest physical address, translated by KVM's memory slots (and shadow/EPT tables)
//   Hpa  host physical address: a byte offset into machine RAM
//   Pfn  host page frame number: Hpa >> PAGE_SHIFT
//   Kva  kernel virtual address of a host kernel (its direct map or a kernel map)
//   Uva  user virtual address inside one simulated process
//
// All fit in a JavaScript number (< 2^53); 64-bit register values are bigint.

declare const brand: unique symbol;
type Brand<K extends string> = number & { readonly [brand]: K };

export type Gva = Brand<"gva">;
export type Gpa = Brand<"gpa">;
export type Hpa = Brand<"hpa">;
export type Pfn = Brand<"pfn">;
export type Kva = Brand<"kva">;
export type Uva = Brand<"uva">;

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const PAGE_MASK = PAGE_SIZE - 1;

export const gva = (n: number) => n as Gva;
export const gpa = (n: number) => n as Gpa;
export const hpa = (n: number) => n as Hpa;
export const pfn = (n: number) => n as Pfn;
export const kva = (n: number) => n as Kva;
export const uva = (n: number) => n as Uva;

export const pfn_to_hpa = (p: Pfn): Hpa => (p * PAGE_SIZE) as Hpa;
export const hpa_to_pfn = (a: Hpa): Pfn => Math.floor(a / PAGE_SIZE) as Pfn;
