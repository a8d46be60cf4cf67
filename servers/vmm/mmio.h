/* SPDX-License-Identifier: MIT */
/* MMIO emulation, device-independent: the instruction that faulted outside RAM is decoded
 * (insn.c) and redone, each access of it going to RAM or to a device callback; devices are
 * found by guest-physical range (struct mmio_region). Also the guest memory accesses that
 * string port I/O shares (pio.c): linear address -> guest page tables -> RAM or device. */
#pragma once
#include "insn.h"
#include "vmm.h"

/* The reply word that carries RFLAGS (include/resurgo/vcpu.h once the exit-state ABI is
 * merged; defined here until then so that this builds either way). While the reply has no room
 * for it (RS_REPLY_MR_COUNT), the flags are written with write_state instead. */
#ifndef RS_REPLY_MR_RFLAGS
#define RS_REPLY_MR_RFLAGS (RS_REPLY_MR_R15 + 1)
#endif
#ifndef RS_REPLY_SET_RFLAGS
#define RS_REPLY_SET_RFLAGS (1u << 5)
#endif

/* A device's side of one access: `size` bytes (1..8, any alignment: a page-crossing access
 * comes in pieces) at guest-physical gpa. A write passes the bytes in *value (little-endian,
 * the low `size` bytes); a read returns them there (bits above `size` bytes are ignored). */
typedef void (*mmio_access_fn)(void *ctx, uint64_t gpa, unsigned size, bool write, uint64_t *value);

/* A device by guest-physical range: [base, base + size). An access goes to the region that
 * contains all of it; one that straddles a region's end goes to none (the open bus). */
struct mmio_region {
    uint64_t base, size;
    mmio_access_fn access; /* called with the dispatcher's ctx */
};
/* Calls the handler of the region of table t[0..n) that contains [gpa, gpa + size), with ctx;
 * false (nothing called) if none does. */
bool mmio_dispatch(const struct mmio_region *t, unsigned n, void *ctx, uint64_t gpa, unsigned size,
                   bool write, uint64_t *value);

/* What emulating an instruction needs of the vCPU beyond the exit's words. */
struct emu_cpu {
    struct gmem_cpu paging; /* CR0, CR3, CR4, EFER */
    uint64_t seg_base[6];   /* ES CS SS DS FS GS (enum insn_seg) */
    unsigned mode;          /* code size: 16, 32, 64 */
    unsigned cpl;           /* 0..3 */
};
/* Fills *c for the exit w from its own words (modes, paging registers, segment bases, CPL).
 * Returns true (kept a bool for callers that may one day need more than the exit carries). */
bool emu_cpu_read(struct vmm *v, const uint64_t *w, struct emu_cpu *c);
/* The linear address of seg:ea (in 64-bit mode only FS and GS have a base; elsewhere it wraps
 * at 4 GiB: SDM vol. 3A 3.4.4, 3.3). Segment limits are not checked. */
uint64_t emu_linear(const struct emu_cpu *c, unsigned seg, uint64_t ea);

/* Guest memory through the guest's page tables: RAM (v->ram) directly, anything else through
 * dev. */
struct emu_mem {
    struct vmm *v;
    const struct emu_cpu *cpu;
    mmio_access_fn dev;
    void *ctx;
};
/* The guest-physical pieces of an access: bytes [off, off + n) of it at gpa, in RAM or not. An
 * access crosses at most one page boundary and RAM ends at most once inside a page. */
struct emu_piece {
    uint64_t gpa;
    unsigned off, n;
    bool ram;
};
#define EMU_PIECES_MAX 4
struct emu_span {
    unsigned count;
    struct emu_piece p[EMU_PIECES_MAX];
};
/* Translates the access of `size` (1..8) bytes at linear address la into *s, split at page
 * boundaries and the end of RAM. False if a page does not translate or does not allow the
 * access (CPL 3 needs U/S; a write needs R/W, in supervisor mode only with CR0.WP): then
 * *pf_error is the #PF error code (SDM vol. 3A 4.7) and *pf_la the address that failed. */
bool emu_span_of(const struct emu_mem *m, uint64_t la, unsigned size, bool write,
                 struct emu_span *s, uint32_t *pf_error, uint64_t *pf_la);
/* The access itself: RAM pieces on RAM, the others through m->dev. */
uint64_t emu_span_read(const struct emu_mem *m, const struct emu_span *s);
void emu_span_write(const struct emu_mem *m, const struct emu_span *s, uint64_t value);
/* Injects #PF (CR2 = la, written with write_state) into the reply. */
void emu_inject_pf(struct vmm *v, struct vmm_reply *r, uint64_t la, uint32_t error);
/* At most this many iterations of a REP string instruction per exit: then the reply leaves RIP
 * on the instruction with RCX, RSI, RDI advanced, and the guest runs it again for the rest
 * (interrupts can come in between, as between iterations on hardware). */
#define EMU_REP_MAX 256u
/* The register after its low `asize` bytes became value (a 4-byte write clears the upper half,
 * a 2-byte one keeps it: how rCX/rSI/rDI of a string instruction change). */
uint64_t emu_set_sized(uint64_t old, unsigned asize, uint64_t value);

/* The VMM's MMIO bus for the exit at rip: the devices of mmio.c's region table, or the open bus
 * (reads all ones, writes dropped, the first access to each page logged). ctx: a struct
 * mmio_bus. */
struct mmio_bus {
    struct vmm *v;
    uint64_t rip;
};
void mmio_bus_access(void *ctx, uint64_t gpa, unsigned size, bool write, uint64_t *value);

/* Emulates the instruction at the exit's RIP, whose access to guest-physical w[GPA] faulted:
 * each device access goes to dev(ctx, ...); r gets the reply (registers, RIP, RFLAGS, or #GP
 * for an instruction it cannot emulate, #PF for a string element whose page does not
 * translate). */
enum vmm_action mmio_emulate(struct vmm *v, const uint64_t *w, mmio_access_fn dev, void *ctx,
                             struct vmm_reply *r);
