// SPDX-License-Identifier: MIT
// placeholder
#include "suites.h"
const struct test fuzz_tests[] = {{0}};
