// SPDX-License-Identifier: MIT
// placeholder
#include "suites.h"
const struct test fault_tests[] = {{0}};
