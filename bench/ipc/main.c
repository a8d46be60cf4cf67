// SPDX-License-Identifier: MIT
// bench/ipc: IPC costs between two address spaces, measured as sel4bench does: one-way Call
// (client -> server) and ReplyRecv (server -> client), empty message, hot cache, timestamp
// overhead subtracted; the round trip with a 10-word message and with one cap; a page fault to a
// user pager and back; plus Signal -> Wait across address spaces. Runs as the root task; under
// QEMU -icount shift=0 the rdtsc deltas are exact instruction counts.
#include "rt.h"
#include "process.h"
#include "map.h"
#include "invoke_stubs.h"
#include <resurgo/bootinfo.h>
#include <resurgo/invocation.h>

#define WARMUP 200
#define RUNS   2000

/* Raw syscalls that keep everything in registers (no IPC-buffer traffic). */
static inline uint64_t raw_call(uint64_t ep, uint64_t info, uint64_t *mr0, uint64_t *mr1)
{
    register uint64_t r8 __asm__("r8") = 0, r9 __asm__("r9") = 0, r10 __asm__("r10") = 0;
    uint64_t rax = RS_SYS_CALL, rdi = ep, rsi = info, rdx = 0;
    __asm__ volatile("syscall"
                     : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r8), "+r"(r9), "+r"(r10)
                     :
                     : "rcx", "r11", "memory");
    *mr0 = rdx;
    *mr1 = r8;
    return rax;
}

static inline uint64_t raw_reply_recv(uint64_t ep, uint64_t info, uint64_t mr0, uint64_t mr1)
{
    register uint64_t r8 __asm__("r8") = mr1, r9 __asm__("r9") = 0, r10 __asm__("r10") = 0;
    uint64_t rax = RS_SYS_REPLY_RECV, rdi = ep, rsi = info, rdx = mr0;
    __asm__ volatile("syscall"
                     : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r8), "+r"(r9), "+r"(r10)
                     :
                     : "rcx", "r11", "memory");
    return rax;
}

/* ReplyRecv (or, with nr RS_SYS_RECV, Recv) with an empty message; returns the received
 * message info, *mr1 its second word. */
static inline uint64_t raw_rr_info(uint64_t nr, uint64_t ep, uint64_t info, uint64_t *mr1)
{
    register uint64_t r8 __asm__("r8") = 0, r9 __asm__("r9") = 0, r10 __asm__("r10") = 0;
    uint64_t rax = nr, rdi = ep, rsi = info, rdx = 0;
    __asm__ volatile("syscall"
                     : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r8), "+r"(r9), "+r"(r10)
                     :
                     : "rcx", "r11", "memory");
    *mr1 = r8;
    return rsi;
}

static inline void raw_simple(uint64_t nr, uint64_t cap)
{
    register uint64_t r8 __asm__("r8") = 0, r9 __asm__("r9") = 0, r10 __asm__("r10") = 0;
    uint64_t rax = nr, rdi = cap, rsi = 0, rdx = 0;
    __asm__ volatile("syscall"
                     : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r8), "+r"(r9), "+r"(r10)
                     :
                     : "rcx", "r11", "memory");
}

#define CHILD_EP   PS_SLOT_FIRST_FREE
#define CHILD_NTFN PS_SLOT_FIRST_FREE
#define SHARED_VA  0x6100000000ul

/* The server: answers every Call with the time it received it and the time it replied. */
static _Noreturn void ipc_server(uint64_t arg)
{
    (void)arg;
    uint64_t t_recv = 0, t_send;
    raw_simple(RS_SYS_RECV, CHILD_EP);
    for (;;) {
        t_recv = rt_rdtsc();
        t_send = rt_rdtsc();
        raw_reply_recv(CHILD_EP, rs_msginfo(0, 0, 0, 2), t_recv, t_send);
    }
}

#define LONG_WORDS 10
#define RECV_SLOT  (PS_SLOT_FIRST_FREE + 1) /* where the cap server receives its cap */

/* As ipc_server, with a 10-word reply (words 4..9 from its IPC buffer). */
static _Noreturn void ipc_server_long(uint64_t arg)
{
    (void)arg;
    uint64_t t_recv, t_send;
    raw_simple(RS_SYS_RECV, CHILD_EP);
    for (;;) {
        t_recv = rt_rdtsc();
        t_send = rt_rdtsc();
        raw_reply_recv(CHILD_EP, rs_msginfo(0, 0, 0, LONG_WORDS), t_recv, t_send);
    }
}

/* Receives one cap with each Call into RECV_SLOT, and deletes it between its two timestamps
 * (outside the measured one-way windows) so that the next one finds the slot empty. */
static _Noreturn void ipc_server_cap(uint64_t arg)
{
    (void)arg;
    uint64_t t_recv, t_send;
    __rs_ipc_buffer->receive_cnode = PS_SLOT_CNODE;
    __rs_ipc_buffer->receive_index = RECV_SLOT;
    __rs_ipc_buffer->receive_depth = 64;
    raw_simple(RS_SYS_RECV, CHILD_EP);
    for (;;) {
        t_recv = rt_rdtsc();
        ps_cnode_delete(PS_SLOT_CNODE, RECV_SLOT, 64);
        t_send = rt_rdtsc();
        raw_reply_recv(CHILD_EP, rs_msginfo(0, 0, 0, 2), t_recv, t_send);
    }
}

/* Faults on an unmapped page forever; the shared page gets each fault's round trip, from
 * before the faulting load to after it (the pager resumes it past the load). */
#define FAULT_VA 0x6200000000ul
static _Noreturn void faulter(uint64_t arg)
{
    volatile uint64_t *shared = (volatile uint64_t *)SHARED_VA;
    (void)arg;
    for (uint64_t i = 1;; i++) {
        uint64_t t0 = rt_rdtsc();
        // a 3-byte load (48 8b 07) that the pager skips
        __asm__ volatile("movq (%%rdi), %%rax" : : "D"(FAULT_VA) : "rax", "memory");
        uint64_t t1 = rt_rdtsc();
        shared[1] = t1 - t0;
        shared[0] = i;
    }
}

/* Faults on MAP_VA, which the pager maps (the load then succeeds on its retry); after each
 * round it asks the pager (a Call with DONE_LABEL on the fault endpoint) to unmap the page
 * again, outside the measured window. */
#define MAP_VA     0x6300000000ul
#define DONE_LABEL 0x77
static _Noreturn void map_faulter(uint64_t arg)
{
    volatile uint64_t *shared = (volatile uint64_t *)SHARED_VA;
    (void)arg;
    for (;;) {
        uint64_t t0 = rt_rdtsc(), m0, m1;
        __asm__ volatile("movq (%%rdi), %%rax" : : "D"(MAP_VA) : "rax", "memory");
        uint64_t t1 = rt_rdtsc();
        shared[1] = t1 - t0;
        shared[2] = t0; // for the pager's phases
        shared[3] = t1;
        raw_call(CHILD_EP, rs_msginfo(DONE_LABEL, 0, 0, 0), &m0, &m1);
    }
}

/* The notification waiter: records when each Wait returned in the shared page. */
static _Noreturn void ntfn_waiter(uint64_t arg)
{
    volatile uint64_t *shared = (volatile uint64_t *)SHARED_VA;
    (void)arg;
    for (;;) {
        raw_simple(RS_SYS_RECV, CHILD_NTFN);
        shared[0] = rt_rdtsc();
    }
}

static void sort_u64(uint64_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++) // insertion sort: n is small and this runs once
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

static void check(int err, const char *what)
{
    if (err == RS_OK) return;
    rt_printf("bench: FAILED %s: %s\n", what, rs_error_name(err));
    rs_shutdown(RS_INIT_SHUTDOWN);
}

/* Starts fn of this very program in a new address space holding `cap` (and `frame` mapped). */
static void spawn(ps_env_t *env, const rs_bootinfo_t *bi, ps_process_t *p, const char *name,
                  void (*fn)(uint64_t), rs_cptr_t cap, rs_cptr_t frame)
{
    ps_process_config_t cfg = {.elf = (const void *)bi->modules[0].vaddr,
                               .elf_size = bi->modules[0].size,
                               .entry = fn,
                               .priority = 255,
                               .mcp = 255,
                               .name = name};
    check(ps_process_create(p, env, &cfg), "process create");
    check(ps_process_give(p, PS_SLOT_FIRST_FREE, cap, RS_RIGHTS_ALL, 0), "give cap");
    if (frame)
        check(ps_process_share(p, frame, SHARED_VA, RS_RIGHT_READ | RS_RIGHT_WRITE), "share");
    check(ps_process_start(p), "start");
}

static void report(const char *what, uint64_t *v, unsigned n)
{
    sort_u64(v, n);
    rt_printf("bench: %-28s min %4lu  median %4lu  max %6lu  (n=%u)\n", what, v[0], v[n / 2],
              v[n - 1], n);
}

static uint64_t samples[4][RUNS];
static uint64_t phases[4][RUNS]; /* the mapped page fault's phases */

/* The pager's side of `page fault -> map -> resume` (the faulter: map_faulter), WARMUP + RUNS
 * rounds from the fault message `info` (address `addr`) received on ep_map; returns the next
 * fault's info. With `marks` it also times the phases (rdtsc marks in the window, which the
 * phases' sum then includes: a separate run) into phases[]; else the round trip into samples[3]. */
static uint64_t overhead_tsc;
static inline __attribute__((always_inline)) uint64_t map_rounds(rs_cptr_t frame, rs_cptr_t vspace,
                                                                 rs_cptr_t ep_map, uint64_t info,
                                                                 uint64_t addr, bool marks)
{
    volatile uint64_t *fsh = (volatile uint64_t *)SHARED_VA;
    uint64_t overhead = overhead_tsc;
    for (int i = 0; i < WARMUP + RUNS; i++) {
        uint64_t t_recv = 0, t_map = 0, t_mapped = 0;
        if (marks) t_recv = rt_rdtsc();
        if (rs_msginfo_label(info) != RS_FAULT_VM || addr != MAP_VA)
            check(RS_INVALID_ARGUMENT, "fault message");
        if (marks) t_map = rt_rdtsc();
        int err = ps_frame_map(frame, vspace, MAP_VA, RS_RIGHT_READ | RS_RIGHT_WRITE, 0);
        if (marks) t_mapped = rt_rdtsc();
        check(err, "map");
        // an empty reply: the thread retries the load
        info = raw_rr_info(RS_SYS_REPLY_RECV, ep_map, 0, &addr);
        if (rs_msginfo_label(info) != DONE_LABEL) check(RS_INVALID_ARGUMENT, "done message");
        if (i >= WARMUP && !marks) samples[3][i - WARMUP] = fsh[1] - overhead;
        if (i >= WARMUP && marks) {
            phases[0][i - WARMUP] = t_recv - fsh[2] - overhead;
            phases[1][i - WARMUP] = t_map - t_recv - overhead;
            phases[2][i - WARMUP] = t_mapped - t_map - overhead;
            phases[3][i - WARMUP] = fsh[3] - t_mapped - overhead;
            samples[3][i - WARMUP] = fsh[1] - overhead;
        }
        check(ps_frame_unmap(frame), "unmap");
        info = raw_rr_info(RS_SYS_REPLY_RECV, ep_map, 0, &addr);
    }
    return info;
}

/* Client side of a round trip on `ep` with `info`; fills samples[0..2] (call, reply, sum). */
static void round_trips(rs_cptr_t ep, uint64_t info, uint64_t overhead)
{
    for (int i = 0; i < WARMUP + RUNS; i++) {
        uint64_t t_recv, t_send, t0 = rt_rdtsc();
        raw_call(ep, info, &t_recv, &t_send);
        uint64_t t1 = rt_rdtsc();
        if (i >= WARMUP) {
            samples[0][i - WARMUP] = t_recv - t0 - overhead;
            samples[1][i - WARMUP] = t1 - t_send - overhead;
            samples[2][i - WARMUP] = samples[0][i - WARMUP] + samples[1][i - WARMUP];
        }
    }
}

int main(void *arg)
{
    const rs_bootinfo_t *bi = arg;
    __rs_ipc_buffer = (rs_ipc_buffer_t *)bi->ipc_buffer_vaddr;
    static ps_root_t root;
    ps_root_init(&root, bi);
    ps_env_t *env = &root.env;
    static ps_process_t server, waiter;

    uint64_t overhead = ~0ull;
    for (int i = 0; i < 1000; i++) {
        uint64_t a = rt_rdtsc(), b = rt_rdtsc();
        if (b - a < overhead) overhead = b - a;
    }
    overhead_tsc = overhead;

    rs_cptr_t ep, ntfn, shared;
    check(ps_new_object(env, RS_OBJ_ENDPOINT, 0, &ep), "endpoint");
    check(ps_new_object(env, RS_OBJ_NOTIFICATION, 0, &ntfn), "notification");
    check(ps_map_new_frame(env, RS_INIT_VSPACE, SHARED_VA, RS_RIGHT_READ | RS_RIGHT_WRITE, &shared),
          "frame");
    spawn(env, bi, &server, "ipc-server", ipc_server, ep, 0);

    round_trips(ep, 0, overhead);
    rt_printf("bench: rdtsc overhead %lu (subtracted)\n", overhead);
    report("ipc call (one way)", samples[0], RUNS);
    report("ipc reply_recv (one way)", samples[1], RUNS);
    report("ipc round trip", samples[2], RUNS);


    // the same with a 10-word message: words 4..9 go from IPC buffer to IPC buffer (slow path)
    static ps_process_t server_long, server_cap, fault_child;
    rs_cptr_t ep_long, ep_cap, ep_fault;
    check(ps_new_object(env, RS_OBJ_ENDPOINT, 0, &ep_long), "endpoint");
    spawn(env, bi, &server_long, "ipc-server-long", ipc_server_long, ep_long, 0);
    round_trips(ep_long, rs_msginfo(0, 0, 0, LONG_WORDS), overhead);
    report("ipc 10 words call", samples[0], RUNS);
    report("ipc 10 words reply_recv", samples[1], RUNS);
    report("ipc 10 words round trip", samples[2], RUNS);

    // one cap (a copy of the notification cap) with an empty Call, through a GRANT endpoint cap
    check(ps_new_object(env, RS_OBJ_ENDPOINT, 0, &ep_cap), "endpoint");
    spawn(env, bi, &server_cap, "ipc-server-cap", ipc_server_cap, ep_cap, 0);
    __rs_ipc_buffer->caps_or_badges[0] = ntfn;
    round_trips(ep_cap, rs_msginfo(0, 0, 1, 0), overhead);
    report("ipc 1 cap call", samples[0], RUNS);
    report("ipc 1 cap reply_recv", samples[1], RUNS);
    report("ipc 1 cap round trip", samples[2], RUNS);

    // page fault -> this task as pager -> resume: the child's fault arrives as a Call on
    // ep_fault; the reply (one word: the RIP past the load) resumes it
    check(ps_new_object(env, RS_OBJ_ENDPOINT, 0, &ep_fault), "endpoint");
    {
        ps_process_config_t cfg = {.elf = (const void *)bi->modules[0].vaddr,
                                   .elf_size = bi->modules[0].size,
                                   .entry = faulter,
                                   .priority = 255,
                                   .mcp = 255,
                                   .name = "faulter",
                                   .fault_ep = ep_fault};
        check(ps_process_create(&fault_child, env, &cfg), "process create");
        check(ps_process_share(&fault_child, shared, SHARED_VA, RS_RIGHT_READ | RS_RIGHT_WRITE),
              "share");
        check(ps_process_start(&fault_child), "start");
    }
    {
        volatile uint64_t *fsh = (volatile uint64_t *)SHARED_VA;
        register uint64_t r8 __asm__("r8") = 0, r9 __asm__("r9") = 0, r10 __asm__("r10") = 0;
        uint64_t rax = RS_SYS_RECV, rdi = ep_fault, rsi = 0, rdx = 0;
        __asm__ volatile("syscall"
                         : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r8), "+r"(r9), "+r"(r10)
                         :
                         : "rcx", "r11", "memory");
        for (int i = 0; i < WARMUP + RUNS + 1; i++) {
            if (rs_msginfo_label(rsi) != RS_FAULT_VM || r8 != FAULT_VA)
                check(RS_INVALID_ARGUMENT, "fault message");
            if (i > WARMUP) samples[3][i - WARMUP - 1] = fsh[1] - overhead;
            rax = RS_SYS_REPLY_RECV, rdi = ep_fault, rsi = rs_msginfo(0, 0, 0, 1), rdx += 3;
            __asm__ volatile("syscall"
                             : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r8), "+r"(r9),
                               "+r"(r10)
                             :
                             : "rcx", "r11", "memory");
        }
    }
    report("page fault -> pager -> resume", samples[3], RUNS);

    // page fault -> this task maps a frame -> resume: the child's load then succeeds
    {
        static ps_process_t map_child;
        rs_cptr_t ep_map, frame;
        check(ps_new_object(env, RS_OBJ_ENDPOINT, 0, &ep_map), "endpoint");
        check(ps_new_object(env, RS_OBJ_FRAME, 0, &frame), "frame");
        ps_process_config_t cfg = {.elf = (const void *)bi->modules[0].vaddr,
                                   .elf_size = bi->modules[0].size,
                                   .entry = map_faulter,
                                   .priority = 255,
                                   .mcp = 255,
                                   .name = "map-faulter",
                                   .fault_ep = ep_map};
        check(ps_process_create(&map_child, env, &cfg), "process create");
        check(ps_process_give(&map_child, CHILD_EP, ep_map, RS_RIGHTS_ALL, 0), "give cap");
        check(ps_process_share(&map_child, shared, SHARED_VA, RS_RIGHT_READ | RS_RIGHT_WRITE),
              "share");
        check(ps_map_prepare(env, map_child.vspace, MAP_VA), "page tables");
        check(ps_process_start(&map_child), "start");
        uint64_t addr, info = raw_rr_info(RS_SYS_RECV, ep_map, 0, &addr);
        info = map_rounds(frame, map_child.vspace, ep_map, info, addr, false);
        report("page fault -> map -> resume", samples[3], RUNS);
        // again with rdtsc marks around the Map in the window (they add to it): the phases
        map_rounds(frame, map_child.vspace, ep_map, info, addr, true);
    }
    report("page fault -> map, marked", samples[3], RUNS);
    report("  fault -> pager", phases[0], RUNS);
    report("  pager's checks", phases[1], RUNS);
    report("  Frame Map (ps_frame_map)", phases[2], RUNS);
    report("  reply -> load retried", phases[3], RUNS);

    // the waiter runs above us, so a Signal switches to it at once
    spawn(env, bi, &waiter, "ntfn-waiter", ntfn_waiter, ntfn, shared);
    check(ps_tcb_set_priority(RS_INIT_TCB, RS_INIT_TCB, 254), "set priority");
    volatile uint64_t *sh = (volatile uint64_t *)SHARED_VA;
    for (int i = 0; i < WARMUP + RUNS; i++) {
        uint64_t t0 = rt_rdtsc();
        raw_simple(RS_SYS_SEND, ntfn);
        if (i >= WARMUP) samples[3][i - WARMUP] = sh[0] - t0 - overhead;
    }
    report("signal -> wait (one way)", samples[3], RUNS);
    rt_printf("bench: done\n");
    rs_shutdown(RS_INIT_SHUTDOWN);
    return 0;
}
