// SPDX-License-Identifier: MIT
// init: the root task. For now it reports what the kernel handed it.
#include "rt.h"
#include <resurgo/bootinfo.h>

int main(void *arg)
{
    const rs_bootinfo_t *bi = arg;
    __rs_ipc_buffer = (rs_ipc_buffer_t *)bi->ipc_buffer_vaddr;
    rt_printf("init: bootinfo magic %lx, %lu untyped caps, %lu modules\n", bi->magic,
              bi->untyped.end - bi->untyped.start, bi->module_count);
    for (uint64_t i = 0; i < bi->module_count; i++)
        rt_printf("init: module '%s' %lu bytes at %lx\n", bi->modules[i].name, bi->modules[i].size,
                  bi->modules[i].vaddr);
    return 0;
}
