// SPDX-License-Identifier: MIT
// The test build of init: runs every system-test area, prints the protocol lines that
// tests/system/run.py reads, and powers the machine off.
#include "suites.h"

static bool cmdline_names(const char *c, const char *word)
{
    for (; *c; c++) {
        unsigned n = 0;
        while (word[n] && c[n] == word[n]) n++;
        if (!word[n]) return true;
    }
    return false;
}

int main(void *arg)
{
    const rs_bootinfo_t *bi = arg;
    __rs_ipc_buffer = (rs_ipc_buffer_t *)bi->ipc_buffer_vaddr;
    rt_printf("[testinit] %lu untyped caps, %lu free slots, image %lu bytes\n",
              bi->untyped.end - bi->untyped.start, bi->empty.end - bi->empty.start,
              bi->modules[0].size);
    framework_init(bi);
    const struct test *areas[] = {syscall_tests, untyped_tests, cnode_tests, vspace_tests,
                                  tcb_tests, ipc_tests, ntfn_tests, fault_tests, hw_tests, hard_caps_tests,
                                  fuzz_tests, vcpu_tests, fpu_tests, entry_tests};
    for (unsigned i = 0; i < sizeof(areas) / sizeof(areas[0]); i++) run_tests(areas[i]);
    // Its bound on interrupt latency holds for emulated time: it runs alone, under -icount
    // (system-qemu-preempt), when the command line names it.
    if (cmdline_names(bi->cmdline, "tests=PREEMPT")) run_tests(preempt_tests);
    framework_done();
    rs_shutdown(RS_INIT_SHUTDOWN);
    return 0;
}
