// SPDX-License-Identifier: MIT
// Benchmark environment: object allocation, mapping and child address spaces for the root task.
#include "bench_env.h"
#include "rt.h"
#include <resurgo/invocation.h>
#include <resurgo/objects.h>

#define PAGE 4096ul
#define CHILD_RADIX 4
#define CHILD_STACK_TOP 0x7000000000ul
#define CHILD_IPCBUF 0x7100000000ul

static _Noreturn void fail(const char *what, uint64_t err)
{
    rt_printf("bench: FAILED %s: %s (%lu %lu %lu)\n", what, rs_error_name((int)err), rs_mr_get(0),
              rs_mr_get(1), rs_mr_get(2));
    rs_debug_shutdown();
    for (;;) rs_yield();
}

static uint64_t invoke(uint64_t cap, uint64_t label, unsigned nargs, unsigned ncaps, const char *what)
{
    rs_result_t r = rs_call(cap, rs_msginfo(label, 0, ncaps, nargs));
    if (r.error) fail(what, r.error);
    return r.error;
}

void bench_env_init(struct bench_env *e, const rs_bootinfo_t *bi)
{
    e->bi = bi;
    e->next_slot = bi->empty.start;
    e->scratch_va = 0x20000000000ul;
    unsigned best = 0;
    for (uint64_t i = 0; i < bi->untyped.end - bi->untyped.start; i++)
        if (bi->untyped_list[i].size_bits > bi->untyped_list[best].size_bits && !bi->untyped_list[i].is_device)
            best = (unsigned)i;
    e->untyped = bi->untyped.start + best;
}

uint64_t bench_alloc(struct bench_env *e, unsigned type, unsigned size_bits)
{
    uint64_t slot = e->next_slot++;
    rs_mr_set(0, type);
    rs_mr_set(1, size_bits);
    rs_mr_set(2, 0);
    rs_mr_set(3, 0); // depth 0: the root CNode itself
    rs_mr_set(4, slot);
    rs_mr_set(5, 1);
    rs_cap_set(0, RS_INIT_CNODE);
    invoke(e->untyped, RS_UNTYPED_RETYPE, 6, 1, "retype");
    return slot;
}

void bench_map(struct bench_env *e, uint64_t vspace, uint64_t frame, uint64_t va, unsigned rights)
{
    static const unsigned table_type[] = {[4] = RS_OBJ_PDPT, [3] = RS_OBJ_PAGE_DIRECTORY, [2] = RS_OBJ_PAGE_TABLE};
    for (int tries = 0; tries < 4; tries++) {
        rs_mr_set(0, va);
        rs_mr_set(1, rights);
        rs_mr_set(2, RS_ATTR_DEFAULT);
        rs_cap_set(0, vspace);
        rs_result_t r = rs_call(frame, rs_msginfo(RS_FRAME_MAP, 0, 1, 3));
        if (r.error == RS_OK) return;
        uint64_t level = rs_mr_get(1);
        if (r.error != RS_FAILED_LOOKUP || level < 2 || level > 4) fail("frame map", r.error);
        uint64_t table = bench_alloc(e, table_type[level], 0);
        rs_mr_set(0, va);
        rs_cap_set(0, vspace);
        invoke(table, RS_PAGE_TABLE_MAP, 1, 1, "table map");
    }
    fail("frame map: too many levels", 0);
}

/* Copies cap `src` of init's CNode into slot `dst` of the CNode `cnode`. */
static void copy_cap(uint64_t cnode, uint64_t dst, uint64_t src)
{
    rs_mr_set(0, dst);
    rs_mr_set(1, CHILD_RADIX + (64 - CHILD_RADIX)); // the child CNode resolves 64 bits
    rs_mr_set(2, src);
    rs_mr_set(3, 64);
    rs_cap_set(0, RS_INIT_CNODE);
    invoke(cnode, RS_CNODE_COPY, 4, 1, "cnode copy");
}

/* Loads this program's PT_LOAD segments into fresh frames mapped in `vspace`. */
static void load_self(struct bench_env *e, uint64_t vspace)
{
    const uint8_t *img = (const uint8_t *)e->bi->modules[0].vaddr;
    uint64_t phoff = *(const uint64_t *)(img + 32);
    uint16_t phnum = *(const uint16_t *)(img + 56);
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = img + phoff + i * 56;
        uint32_t type = *(const uint32_t *)ph, flags = *(const uint32_t *)(ph + 4);
        uint64_t off = *(const uint64_t *)(ph + 8), va = *(const uint64_t *)(ph + 16);
        uint64_t filesz = *(const uint64_t *)(ph + 32), memsz = *(const uint64_t *)(ph + 40);
        if (type != 1) continue;
        unsigned rights = RS_RIGHT_READ | (flags & 2 ? RS_RIGHT_WRITE : 0) | (flags & 1 ? RS_RIGHT_EXEC : 0);
        for (uint64_t p = va & ~(PAGE - 1); p < va + memsz; p += PAGE) {
            uint64_t f = bench_alloc(e, RS_OBJ_FRAME, 0);
            uint64_t tmp = e->scratch_va;
            e->scratch_va += PAGE;
            bench_map(e, RS_INIT_VSPACE, f, tmp, RS_RIGHT_READ | RS_RIGHT_WRITE);
            uint64_t lo = p > va ? p : va, hi = p + PAGE < va + filesz ? p + PAGE : va + filesz;
            if (lo < hi) memcpy((void *)(tmp + (lo - p)), img + off + (lo - va), hi - lo);
            invoke(f, RS_FRAME_UNMAP, 0, 0, "unmap");
            bench_map(e, vspace, f, p, rights);
        }
    }
}

void bench_spawn(struct bench_env *e, const char *name, uint64_t entry, unsigned prio, uint64_t cap1,
                 uint64_t map_frame, uint64_t map_va)
{
    uint64_t vspace = bench_alloc(e, RS_OBJ_VSPACE, 0);
    uint64_t cnode = bench_alloc(e, RS_OBJ_CNODE, CHILD_RADIX);
    uint64_t tcb = bench_alloc(e, RS_OBJ_TCB, 0);
    uint64_t ipcbuf = bench_alloc(e, RS_OBJ_FRAME, 0);
    load_self(e, vspace);
    for (uint64_t p = 1; p <= 4; p++)
        bench_map(e, vspace, bench_alloc(e, RS_OBJ_FRAME, 0), CHILD_STACK_TOP - p * PAGE, RS_RIGHT_READ | RS_RIGHT_WRITE);
    bench_map(e, vspace, ipcbuf, CHILD_IPCBUF, RS_RIGHT_READ | RS_RIGHT_WRITE);
    if (map_frame) {
        uint64_t copy = e->next_slot++;
        copy_cap(RS_INIT_CNODE, copy, map_frame);
        bench_map(e, vspace, copy, map_va, RS_RIGHT_READ | RS_RIGHT_WRITE);
    }
    // the child's CNode: guard of 60 zero bits so that small cptrs resolve in one level
    uint64_t guarded = e->next_slot++;
    rs_mr_set(0, guarded);
    rs_mr_set(1, 64);
    rs_mr_set(2, cnode);
    rs_mr_set(3, 64);
    rs_mr_set(4, RS_RIGHTS_ALL);
    rs_mr_set(5, (uint64_t)(64 - CHILD_RADIX) << 58);
    rs_cap_set(0, RS_INIT_CNODE);
    invoke(RS_INIT_CNODE, RS_CNODE_MINT, 6, 1, "mint cnode guard");
    copy_cap(guarded, 1, cap1);

    rs_mr_set(0, 0);
    rs_mr_set(1, CHILD_IPCBUF);
    rs_cap_set(0, guarded);
    rs_cap_set(1, vspace);
    rs_cap_set(2, ipcbuf);
    invoke(tcb, RS_TCB_CONFIGURE, 2, 3, "tcb configure");
    uint64_t w[2] = {0, 0};
    memcpy(w, name, strlen(name) < 15 ? strlen(name) : 15);
    rs_mr_set(0, w[0]);
    rs_mr_set(1, w[1]);
    invoke(tcb, RS_TCB_SET_NAME, 2, 0, "set name");
    bench_set_prio(e, tcb, prio);
    // registers: rip, rsp, rflags, rax, rbx, rcx, rdx, rsi, rdi
    uint64_t regs[9] = {entry, CHILD_STACK_TOP - 8, 0x202, 0, 0, 0, 0, 0, CHILD_IPCBUF};
    rs_mr_set(0, 1);
    rs_mr_set(1, 9);
    for (int i = 0; i < 9; i++) rs_mr_set(2 + i, regs[i]);
    invoke(tcb, RS_TCB_WRITE_REGISTERS, 11, 0, "write registers");
}

void bench_set_prio(struct bench_env *e, uint64_t tcb, unsigned prio)
{
    (void)e;
    rs_mr_set(0, prio);
    rs_cap_set(0, RS_INIT_TCB);
    invoke(tcb, RS_TCB_SET_PRIORITY, 1, 1, "set priority");
}

void bench_sort(uint64_t *v, unsigned n, int (*cmp)(const void *, const void *))
{
    for (unsigned i = 1; i < n; i++) // insertion sort: n is small and this runs once
        for (unsigned j = i; j > 0 && cmp(&v[j - 1], &v[j]) > 0; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}
