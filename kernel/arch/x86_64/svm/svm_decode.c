// SPDX-License-Identifier: MIT
// svm_exit_decode out of line (svm_decode.h has it inline for svm_run), for the host unit tests
// (tests/unit/test_exit_decode.c).
#include "svm_decode.h"

void svm_exit_decode(struct vcpu *v, struct vmcb *vm, struct vcpu_exit *e)
{
    svm_exit_decode_inline(v, vm, e);
}
