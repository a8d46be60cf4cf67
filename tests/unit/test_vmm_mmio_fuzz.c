// SPDX-License-Identifier: MIT
#include <criterion/criterion.h>
#include "vmm_fake.h"
