// The kvm suites of this directory again, with two-dimensional paging: the kvm module
// parameter enable_ept set (WorldConfig.mmu = "ept"), so every VM they create runs its
// guest under EPT and unrestricted guest instead of shadow paging.
import { set_default_mmu } from "./harness.js";

set_default_mmu("ept");
await import("./examples.test.js");
await import("./kvm_api.test.js");
