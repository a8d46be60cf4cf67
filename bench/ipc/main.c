// SPDX-License-Identifier: MIT
// bench/ipc: IPC costs between two address spaces, measured as sel4bench does: one-way Call
// (client -> server) and ReplyRecv (server -> client), empty message, hot cache, timestamp
// overhead subtracted; plus Signal -> Wait across address spaces. Runs as the root task; under
// QEMU -icount shift=0 the rdtsc deltas are exact instruction counts.
#include "rt.h"
#include "bench_env.h"
#include <resurgo/bootinfo.h>
#include <resurgo/invocation.h>

#define WARMUP 200
#define RUNS   2000

/* Raw syscalls that keep everything in registers (no IPC-buffer traffic). */
static inline uint64_t raw_call(uint64_t ep, uint64_t info, uint64_t *mr0, uint64_t *mr1)
{
    register uint64_t r8 __asm__("r8") = 0, r9 __asm__("r9") = 0, r10 __asm__("r10") = 0;
    uint64_t rax = RS_SYS_CALL, rdi = ep, rsi = info, rdx = 0;
    __asm__ volatile("syscall" : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r8), "+r"(r9), "+r"(r10)
                     : : "rcx", "r11", "memory");
    *mr0 = rdx;
    *mr1 = r8;
    return rax;
}

static inline uint64_t raw_reply_recv(uint64_t ep, uint64_t info, uint64_t mr0, uint64_t mr1)
{
    register uint64_t r8 __asm__("r8") = mr1, r9 __asm__("r9") = 0, r10 __asm__("r10") = 0;
    uint64_t rax = RS_SYS_REPLY_RECV, rdi = ep, rsi = info, rdx = mr0;
    __asm__ volatile("syscall" : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r8), "+r"(r9), "+r"(r10)
                     : : "rcx", "r11", "memory");
    return rax;
}

static inline void raw_simple(uint64_t nr, uint64_t cap)
{
    register uint64_t r8 __asm__("r8") = 0, r9 __asm__("r9") = 0, r10 __asm__("r10") = 0;
    uint64_t rax = nr, rdi = cap, rsi = 0, rdx = 0;
    __asm__ volatile("syscall" : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r8), "+r"(r9), "+r"(r10)
                     : : "rcx", "r11", "memory");
}

#define CHILD_EP   1
#define CHILD_NTFN 1
#define SHARED_VA  0x6000000000ul

/* The server: answers every Call with the time it received it and the time it replied. */
static _Noreturn void ipc_server(void *arg)
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

/* The notification waiter: records when each Wait returned in the shared page. */
static _Noreturn void ntfn_waiter(void *arg)
{
    volatile uint64_t *shared = (volatile uint64_t *)SHARED_VA;
    (void)arg;
    for (;;) {
        raw_simple(RS_SYS_RECV, CHILD_NTFN);
        shared[0] = rt_rdtsc();
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *v, unsigned n)
{
    bench_sort(v, n, cmp_u64);
    rt_printf("bench: %-28s min %4lu  median %4lu  max %6lu  (n=%u)\n", what, v[0], v[n / 2], v[n - 1], n);
}

static uint64_t samples[4][RUNS];

int main(void *arg)
{
    const rs_bootinfo_t *bi = arg;
    __rs_ipc_buffer = (rs_ipc_buffer_t *)bi->ipc_buffer_vaddr;
    struct bench_env env;
    bench_env_init(&env, bi);

    uint64_t overhead = ~0ull;
    for (int i = 0; i < 1000; i++) {
        uint64_t a = rt_rdtsc(), b = rt_rdtsc();
        if (b - a < overhead) overhead = b - a;
    }

    uint64_t ep = bench_alloc(&env, RS_OBJ_ENDPOINT, 0);
    uint64_t ntfn = bench_alloc(&env, RS_OBJ_NOTIFICATION, 0);
    uint64_t shared = bench_alloc(&env, RS_OBJ_FRAME, 0);
    bench_map(&env, RS_INIT_VSPACE, shared, SHARED_VA, RS_RIGHT_READ | RS_RIGHT_WRITE);
    bench_spawn(&env, "ipc-server", (uint64_t)ipc_server, 255, ep, 0, 0);

    for (int i = 0; i < WARMUP + RUNS; i++) {
        uint64_t t_recv, t_send, t0 = rt_rdtsc();
        raw_call(ep, 0, &t_recv, &t_send);
        uint64_t t1 = rt_rdtsc();
        if (i >= WARMUP) {
            samples[0][i - WARMUP] = t_recv - t0 - overhead;
            samples[1][i - WARMUP] = t1 - t_send - overhead;
            samples[2][i - WARMUP] = samples[0][i - WARMUP] + samples[1][i - WARMUP];
        }
    }
    rt_printf("bench: rdtsc overhead %lu (subtracted)\n", overhead);
    report("ipc call (one way)", samples[0], RUNS);
    report("ipc reply_recv (one way)", samples[1], RUNS);
    report("ipc round trip", samples[2], RUNS);

    // the waiter runs above us, so a Signal switches to it at once
    bench_spawn(&env, "ntfn-waiter", (uint64_t)ntfn_waiter, 255, ntfn, shared, SHARED_VA);
    bench_set_prio(&env, RS_INIT_TCB, 254);
    volatile uint64_t *sh = (volatile uint64_t *)SHARED_VA;
    for (int i = 0; i < WARMUP + RUNS; i++) {
        uint64_t t0 = rt_rdtsc();
        raw_simple(RS_SYS_SEND, ntfn);
        if (i >= WARMUP) samples[3][i - WARMUP] = sh[0] - t0 - overhead;
    }
    report("signal -> wait (one way)", samples[3], RUNS);
    rt_printf("bench: done\n");
    rs_debug_shutdown();
    return 0;
}
