// include/linux/types.h and include/linux/kvm_types.h: the address types, each a
// distinct brand (machine/addr.ts) so that a guest-physical address cannot be used
// where a host-physical one is meant.
//   gva_t guest virtual, gpa_t guest physical, hpa_t / phys_addr_t host physical,
//   a host page frame number (unsigned long pfn), a kernel pointer, a __user pointer.

export {
  type Gva as gva_t,
  type Gpa as gpa_t,
  type Hpa as hpa_t,
  type Hpa as phys_addr_t,
  type Pfn,
  type Kva,
  type Uva,
  PAGE_SHIFT,
  PAGE_SIZE,
  PAGE_MASK,
  gva,
  gpa,
  hpa,
  pfn,
  kva,
  uva,
} from "../../machine/addr.js";
