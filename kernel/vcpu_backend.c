// SPDX-License-Identifier: MIT
// Picking the virtualisation backend at boot: the first that the CPU offers and that comes up.
#include "vcpu_backend.h"
#include "console.h"

/* The VMX backend may be left out of a build: then a VMX-only CPU runs no guests. */
extern const struct vcpu_backend vmx_backend __attribute__((weak));

void vcpu_backend_select(void)
{
    const struct vcpu_backend *const candidates[] = {&svm_backend, &vmx_backend};
    for (unsigned i = 0; i < sizeof(candidates) / sizeof(candidates[0]) && !vcpu_backend; i++) {
        const struct vcpu_backend *b = candidates[i];
        // only the first backend the CPU offers is tried, as before: a CPU has one or the other
        if (!b || !b->probe()) continue;
        if (b->cpu_init()) vcpu_backend = b;
        break;
    }
    if (vcpu_backend) kprintf("vcpu: backend %s (%s)\n", vcpu_backend->name, vcpu_backend->vendor);
    else kprintf("vcpu: none\n");
}
