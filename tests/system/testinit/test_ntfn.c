// SPDX-License-Identifier: MIT
// placeholder
#include "suites.h"
const struct test ntfn_tests[] = {{0}};
