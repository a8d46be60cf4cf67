/* SPDX-License-Identifier: MIT */
/* What the vCPU test files share (test_vcpu_objects.c, test_vcpu_exits.c, test_vcpu_restart.c):
 * the test guest (guests/test/guest.S), a guest made and bound with init as its VMM
 * (test_vcpu_guest.c), and waiting for and answering its exits. */
#pragma once
#include "suites.h"
#include <resurgo/vcpu.h>
#include "vcpu.h"

#define ME           RS_INIT_CNODE
#define D            PS_DEPTH
#define RW           (RS_RIGHT_READ | RS_RIGHT_WRITE)
#define RWX          (RW | RS_RIGHT_EXEC)
#define GUEST_LOAD   0x1000ul /* TEST_GUEST_LOAD in guest.S: the guest's code page */
#define GUEST_STACK  0x1FF0ul
#define DATA_GPA     0x2000ul
#define MMIO_GPA     0x00A00000ul
#define GUEST_BADGE  0x9E57
#define EXIT_WORD(i) ps_mr(RS_EXIT_MR_##i)

extern const char test_guest_start[], test_guest_end[], test_guest_gdt[];
extern const char guest_io[], guest_cpuid[], guest_vmmcall[], guest_vmcall[], guest_hlt[],
    guest_mmio[], guest_triple[], guest_data[], guest_loop[], guest_inject[], guest_handler[],
    guest_fpu[], guest_spin[];

static inline uint64_t gpa_of(const char *label)
{
    return GUEST_LOAD + (uint64_t)(label - test_guest_start);
}

struct guest {
    rs_cptr_t gs, ram, vcpu, tcb, ep; /* ep: the exit endpoint, as init receives on it */
    volatile uint8_t *ram_map;        /* the guest's code page as init sees it */
};

/* 32-bit flat protected mode at rip, segments of test_guest_gdt, no IDT, no paging. */
void flat32_state(rs_vcpu_state_t *s, uint64_t rip);
/* A guest space with tables for the first 2 MiB and the guest's code at GUEST_LOAD, a vCPU bound
 * to a new thread (priority TEST_PRIO) and to the exit endpoint through a cap badged
 * GUEST_BADGE. The thread is not started. */
bool guest_make(struct guest *g);
/* guest_make, the flat32 state at `entry`, and the thread resumed. */
bool guest_go(struct guest *g, const char *entry);
/* Waits for the guest's next exit: true if it has `reason`, with its words in the MRs. */
bool expect_exit_at(int line, const struct guest *g, uint64_t reason);
#define expect_exit(g, reason) expect_exit_at(__LINE__, g, reason)
/* Answers the exit init holds with flags only. */
int reply_flags(uint64_t flags);
/* Answers with SET_GPRS (and `flags`): the GPRs as the exit had them but rax, and RIP, words up
 * to `len`. */
int reply_rax(uint64_t flags, uint64_t rax, uint64_t rip, unsigned len);
/* Starts the held-exit guest at `entry` afresh: WriteState, then an empty reply resumes it. */
bool restart_at(struct guest *g, const char *entry);
