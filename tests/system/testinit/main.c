// SPDX-License-Identifier: MIT
// The test build of init: runs every system-test area, prints the protocol lines that
// tests/system/run.py reads, and powers the machine off.
#include "suites.h"

/* Every area, in the order they run; the plan line counts their tables (run_areas). */
static const struct test *const areas[] = {
    syscall_tests,
    untyped_tests,
    cnode_tests,
    vspace_tests,
    tcb_tests,
    ipc_tests,
    ntfn_tests,
    fault_tests,
    hw_tests,
    fuzz_tests,
    fuzz_caps_tests,
    vcpu_tests,
};

int main(void *arg)
{
    const rs_bootinfo_t *bi = arg;
    __rs_ipc_buffer = (rs_ipc_buffer_t *)bi->ipc_buffer_vaddr;
    rt_printf("[testinit] %lu untyped caps, %lu free slots, image %lu bytes\n",
              bi->untyped.end - bi->untyped.start, bi->empty.end - bi->empty.start,
              bi->modules[0].size);
    framework_init(bi);
    run_areas(areas, sizeof(areas) / sizeof(areas[0]));
    framework_done();
    rs_debug_shutdown();
    return 0;
}
