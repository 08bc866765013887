import { guests_through_kvm } from "./kvm_guests.js";

guests_through_kvm("linux", ["shadow", "ept"]);
