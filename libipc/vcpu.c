// SPDX-License-Identifier: MIT
// Invocation stubs for VCPU and GuestSpace objects (see vcpu.h).
#include "vcpu.h"
#include "process.h"

int ps_vcpu_bind(rs_cptr_t vcpu, rs_cptr_t tcb, rs_cptr_t guest_space, rs_cptr_t exit_ep)
{
    const rs_cptr_t caps[] = {tcb, guest_space, exit_ep};
    return ps_invoke(vcpu, RS_VCPU_BIND, NULL, 0, caps, 3);
}

int ps_vcpu_read_state(rs_cptr_t vcpu, rs_vcpu_state_t *s)
{
    int err = ps_invoke(vcpu, RS_VCPU_READ_STATE, NULL, 0, NULL, 0);
    for (unsigned i = 0; !err && i < RS_VCPU_STATE_WORDS; i++) ((uint64_t *)s)[i] = rs_mr_get(i);
    return err;
}

int ps_vcpu_write_state(rs_cptr_t vcpu, const rs_vcpu_state_t *s)
{
    return ps_invoke(vcpu, RS_VCPU_WRITE_STATE, (const rs_word_t *)s, RS_VCPU_STATE_WORDS, NULL, 0);
}

int ps_vcpu_set_register(rs_cptr_t vcpu, unsigned index, uint64_t value)
{
    const rs_word_t args[] = {index, value};
    return ps_invoke(vcpu, RS_VCPU_SET_REGISTER, args, 2, NULL, 0);
}

int ps_vcpu_get_register(rs_cptr_t vcpu, unsigned index, uint64_t *value)
{
    const rs_word_t arg = index;
    int err = ps_invoke(vcpu, RS_VCPU_GET_REGISTER, &arg, 1, NULL, 0);
    if (!err) *value = rs_mr_get(0);
    return err;
}

int ps_vcpu_inject(rs_cptr_t vcpu, uint64_t event)
{
    return ps_invoke(vcpu, RS_VCPU_INJECT, &event, 1, NULL, 0);
}

int ps_vcpu_request_window(rs_cptr_t vcpu, bool on)
{
    const rs_word_t ask = on;
    return ps_invoke(vcpu, RS_VCPU_REQUEST_WINDOW, &ask, 1, NULL, 0);
}

int ps_guest_space_map(rs_cptr_t guest_space, rs_cptr_t frame, uint64_t gpa, unsigned rights)
{
    const rs_word_t args[] = {gpa, rights};
    return ps_invoke(guest_space, RS_GUEST_SPACE_MAP, args, 2, &frame, 1);
}

int ps_guest_space_unmap(rs_cptr_t guest_space, rs_cptr_t frame)
{
    return ps_invoke(guest_space, RS_GUEST_SPACE_UNMAP, NULL, 0, &frame, 1);
}

int ps_vcpu_set_exit_words(rs_cptr_t vcpu, uint32_t mask)
{
    uint64_t arg = mask;
    return ps_invoke(vcpu, RS_VCPU_SET_EXIT_WORDS, &arg, 1, NULL, 0);
}

unsigned ps_vcpu_exit_get(rs_msginfo_t info, uint64_t w[RS_EXIT_MR_COUNT])
{
    unsigned n = rs_msginfo_length(info);
    if (n > RS_EXIT_MR_COUNT) n = RS_EXIT_MR_COUNT;
    for (unsigned i = 0; i < n; i++) w[i] = rs_mr_get(i);
    for (unsigned i = n; i < RS_EXIT_MR_COUNT; i++) w[i] = 0;
    return n;
}
