/* SPDX-License-Identifier: MIT */
/* Invocation stubs for the virtualisation objects, VCPU and GuestSpace (docs/virtualization.md
 * lists each operation's errors). One kernel call each; the return value is the kernel's status,
 * its detail (e.g. WriteState's word at fault) in MR0 as for every invocation. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <resurgo/types.h>
#include <resurgo/msginfo.h>
#include <resurgo/vcpu.h>

/* VCPU Bind: the thread `tcb` runs the guest of `vcpu` in `guest_space`, its exits Calls on
 * `exit_ep` (needs WRITE; its badge marks the exits). */
int ps_vcpu_bind(rs_cptr_t vcpu, rs_cptr_t tcb, rs_cptr_t guest_space, rs_cptr_t exit_ep);
/* VCPU ReadState into *s (the caller needs an IPC buffer: RS_BAD_ADDRESS). */
int ps_vcpu_read_state(rs_cptr_t vcpu, rs_vcpu_state_t *s);
/* VCPU WriteState from *s; RS_INVALID_ARGUMENT with MR0 = the word at fault. */
int ps_vcpu_write_state(rs_cptr_t vcpu, const rs_vcpu_state_t *s);
/* VCPU SetRegister: state word `index` (RS_VCPU_STATE_WORD(field)) := value, checked as WriteState
 * (RS_INVALID_ARGUMENT, MR0 the word); RS_RANGE_ERROR for an index beyond the state. */
int ps_vcpu_set_register(rs_cptr_t vcpu, unsigned index, uint64_t value);
/* VCPU GetRegister: *value := state word `index`; RS_RANGE_ERROR as SetRegister. */
int ps_vcpu_get_register(rs_cptr_t vcpu, unsigned index, uint64_t *value);
/* VCPU Inject: queues `event` (RS_EVENT_MAKE, RS_EVENT_WITH_ERROR) for the next entry. */
int ps_vcpu_inject(rs_cptr_t vcpu, uint64_t event);
/* VCPU RequestWindow: asks for (on) or cancels an RS_EXIT_INTR_WINDOW exit. */
int ps_vcpu_request_window(rs_cptr_t vcpu, bool on);
/* VCPU SetExitWords: the exits of the reasons in `mask` (RS_EXIT_SHORT(reason) bits, at most
 * RS_EXIT_SHORT_ALL) carry only their reason's words (exit ABI 2, resurgo/vcpu.h); 0: all words.
 * Set it before the guest's first exit: a held exit is delivered again with the selection of
 * the moment. */
int ps_vcpu_set_exit_words(rs_cptr_t vcpu, uint32_t mask);
/* The exit message just received (info: its message info) into w[RS_EXIT_MR_COUNT] at the
 * words' fixed places, the words it does not carry 0. Returns its length. */
unsigned ps_vcpu_exit_get(rs_msginfo_t info, uint64_t w[RS_EXIT_MR_COUNT]);
/* GuestSpace Map: `frame` at guest-physical `gpa` with `rights` (RS_RIGHT_*). */
int ps_guest_space_map(rs_cptr_t guest_space, rs_cptr_t frame, uint64_t gpa, unsigned rights);
/* GuestSpace Unmap: removes `frame`'s mapping from `guest_space` (none: nothing to do). */
int ps_guest_space_unmap(rs_cptr_t guest_space, rs_cptr_t frame);
