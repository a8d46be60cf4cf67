// SPDX-License-Identifier: MIT
// VCPU and GuestSpace invocations. No backend is wired in yet: Retype refuses these types with
// RS_NOT_SUPPORTED (object_virt_supported), so no cap of these types can exist.
#include "vcpu.h"

int vcpu_decode(struct invocation *inv) { return inv_error(inv, RS_NOT_SUPPORTED, 0, 0, 0); }
int guest_space_decode(struct invocation *inv) { return inv_error(inv, RS_NOT_SUPPORTED, 0, 0, 0); }
