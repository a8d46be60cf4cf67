/* SPDX-License-Identifier: MIT */
/* A random exit of the flat platform for the twin tests (test_vmm_persist_check.c,
 * test_vmm_commit_exit.c): w (RS_EXIT_MR_COUNT words, zeroed by the caller) gets a random reason,
 * for I/O one of `ports`, random RAX and IF, and number seq; next() is the test's generator. */
#pragma once
#include "vmm_fake.h"

static inline void random_flat_exit(uint64_t *w, uint64_t seq, uint64_t (*next)(void),
                                    const uint16_t *ports, size_t nports)
{
    static const uint64_t reasons[] = {
        RS_EXIT_IO,          RS_EXIT_IO,    RS_EXIT_IO,        RS_EXIT_IO,     RS_EXIT_HLT,
        RS_EXIT_INTR_WINDOW, RS_EXIT_CPUID, RS_EXIT_EXCEPTION, RS_EXIT_VMCALL, RS_EXIT_OTHER};
    w[RS_EXIT_MR_REASON] = reasons[next() % (sizeof(reasons) / sizeof(reasons[0]))];
    uint16_t port = ports[next() % nports];
    w[RS_EXIT_MR_QUAL] = w[RS_EXIT_MR_REASON] == RS_EXIT_IO
                             ? rs_io_qual(port, 1, next() & 1, false, false)
                             : next() % 32;
    w[RS_EXIT_MR_RAX] = next();
    w[RS_EXIT_MR_RFLAGS] = next() & RFLAGS_IF;
    w[RS_EXIT_MR_RAW_REASON] = next() % 4;
    w[RS_EXIT_MR_SEQ] = seq;
    fake_exit_cpu(w);
}
