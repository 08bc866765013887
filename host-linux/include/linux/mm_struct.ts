// struct mm_struct: an address space. Opaque to modules; kvm only compares it
// (a VM belongs to the mm that created it).

export type mm_struct = object;
