// SPDX-License-Identifier: MIT
// placeholder
#include "suites.h"
const struct test hw_tests[] = {{0}};
