/* SPDX-License-Identifier: MIT */
/* Hardware virtualisation objects: VCPU and GuestSpace (see docs/virtualization.md). */
#pragma once
#include "invoke.h"

int vcpu_decode(struct invocation *inv);
int guest_space_decode(struct invocation *inv);
