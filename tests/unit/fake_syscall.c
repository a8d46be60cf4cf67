// SPDX-License-Identifier: MIT
// The scripted kernel of fake_syscall.h: rs_syscall_buf and the runtime's IPC buffer pointer,
// which a host test links instead of libipc/rt.
#include <string.h>
#include <criterion/criterion.h>
#include "fake_syscall.h"

static rs_ipc_buffer_t buffer;
rs_ipc_buffer_t *__rs_ipc_buffer = &buffer;
struct fake_call fake_calls[FAKE_MAX_CALLS];
unsigned fake_ncalls;
static fake_kernel_fn kernel;

void fake_reset(fake_kernel_fn k)
{
    memset(&buffer, 0, sizeof(buffer));
    memset(fake_calls, 0, sizeof(fake_calls));
    fake_ncalls = 0;
    kernel = k;
}

unsigned fake_count(rs_word_t nr)
{
    unsigned n = 0;
    for (unsigned i = 0; i < fake_ncalls; i++) n += fake_calls[i].nr == nr;
    return n;
}

rs_result_t rs_syscall_buf(rs_ipc_buffer_t *b, rs_word_t nr, rs_cptr_t dest, rs_msginfo_t info)
{
    cr_assert_lt(fake_ncalls, FAKE_MAX_CALLS, "more system calls than any test makes: a loop?");
    struct fake_call *c = &fake_calls[fake_ncalls];
    *c = (struct fake_call){.nr = nr,
                            .dest = dest,
                            .info = info,
                            .receive_cnode = b->receive_cnode,
                            .receive_index = b->receive_index,
                            .receive_depth = b->receive_depth};
    memcpy(c->mr, b->mr, sizeof(c->mr));
    memcpy(c->caps, b->caps_or_badges, sizeof(c->caps));
    cr_assert(kernel, "a system call the test did not expect");
    fake_ncalls++;
    return kernel(c, b);
}
