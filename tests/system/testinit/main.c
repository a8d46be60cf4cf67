// SPDX-License-Identifier: MIT
// The test build of init: runs every system-test area, prints the protocol lines that
// tests/system/run.py reads, and powers the machine off.
#include "suites.h"

/* Every area, in the order they run; the plan line counts their tables (run_areas). */
static const struct test *const areas[] = {
    syscall_tests,     untyped_tests,   cnode_tests,
    vspace_tests,      tcb_tests,       ipc_tests,
    ntfn_tests,        fault_tests,     hw_tests,
    hard_caps_tests,   fuzz_tests,      fuzz_caps_tests,
    vcpu_object_tests, vcpu_exit_tests, vcpu_restart_tests,
    vcpu_msr_tests,    fpu_tests,       entry_tests,
    timer_tests,       devut_tests,     vcpu_exitwords_tests,
    pfmap_tests,
};

/* Areas run only when named (tests=...): PREEMPT's bound on interrupt latency holds for emulated
 * time, so it runs alone under -icount (system-qemu-preempt) or on Bochs. */
static const struct test *const on_request[] = {
    preempt_tests,
};

int main(void *arg)
{
    const rs_bootinfo_t *bi = arg;
    __rs_ipc_buffer = (rs_ipc_buffer_t *)bi->ipc_buffer_vaddr;
    rt_printf("[testinit] %lu untyped caps, %lu free slots, image %lu bytes\n",
              bi->untyped.end - bi->untyped.start, bi->empty.end - bi->empty.start,
              bi->modules[0].size);
    framework_init(bi);
    run_areas(areas, sizeof(areas) / sizeof(areas[0]), on_request,
              sizeof(on_request) / sizeof(on_request[0]));
    framework_done();
    rs_shutdown(RS_INIT_SHUTDOWN);
    return 0;
}
