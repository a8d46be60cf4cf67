/* SPDX-License-Identifier: MIT */
/* A minimal object environment for benchmarks running as the root task: objects retyped from
 * the largest untyped, and child address spaces made from the program's own ELF (module 0). */
#pragma once
#include <stdint.h>
#include <resurgo/bootinfo.h>

struct bench_env {
    const rs_bootinfo_t *bi;
    uint64_t untyped;   /* cptr of the untyped we carve from */
    uint64_t next_slot; /* next free slot in init's CNode */
    uint64_t scratch_va;
};

void bench_env_init(struct bench_env *e, const rs_bootinfo_t *bi);
/* Retypes one object into a fresh slot of init's CNode and returns that slot; stops the
 * benchmark with a message on failure. */
uint64_t bench_alloc(struct bench_env *e, unsigned type, unsigned size_bits);
/* Maps frame cap `frame` at `va` in `vspace`, making the paging structures it needs. */
void bench_map(struct bench_env *e, uint64_t vspace, uint64_t frame, uint64_t va, unsigned rights);
/* Starts `entry` of this program in a new address space at `prio`. Its CNode holds `cap1` in
 * slot 1 and, if non-zero, `cap2` in slot 2; `map_frame` (if non-zero) is mapped at `map_va`. */
void bench_spawn(struct bench_env *e, const char *name, uint64_t entry, unsigned prio, uint64_t cap1,
                 uint64_t map_frame, uint64_t map_va);
void bench_set_prio(struct bench_env *e, uint64_t tcb, unsigned prio);
void bench_sort(uint64_t *v, unsigned n, int (*cmp)(const void *, const void *));
