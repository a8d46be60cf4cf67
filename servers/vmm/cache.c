// SPDX-License-Identifier: MIT
// WBINVD and INVD, which the kernel intercepts on both backends (a guest must not stall the
// whole machine flushing every cache): the guest's RAM is ordinary write-back memory shared
// with no device, so there is nothing to flush for it and the instruction is skipped (KVM does
// the same without non-coherent DMA). Recognised by its bytes, as the raw exit code differs per
// backend.
#include "vmm.h"

#define SEG_L (1ull << 9)

/* The bytes at the exit's RIP: 0F 09 (WBINVD), F3 0F 09 (WBNOINVD) or 0F 08 (INVD)? Returns
 * the instruction's length, or 0 for anything else. */
static unsigned cache_insn(struct vmm *v, const uint64_t *w)
{
    // from the exit's words (no ReadState): CS.L, EFER.LMA, CS base bits 31:0, the paging words
    uint64_t efer = w[RS_EXIT_MR_EFER];
    bool long64 = (efer & EFER_LMA) && (rs_exit_cs_attrib(w[RS_EXIT_MR_SEG]) & SEG_L);
    uint64_t rip = w[RS_EXIT_MR_RIP];
    uint64_t la = long64 ? rip : (uint32_t)(rs_exit_low_base(w[RS_EXIT_MR_CS_SS_BASE]) + rip);
    struct gmem_cpu c = {w[RS_EXIT_MR_CR0], w[RS_EXIT_MR_CR3], w[RS_EXIT_MR_CR4], efer};
    uint8_t b[3] = {0};
    unsigned n = gmem_fetch(v, &c, la, b, sizeof(b));
    unsigned skip = n >= 1 && b[0] == 0xF3;
    if (n < 2 + skip || b[skip] != 0x0F || (b[skip + 1] != 0x09 && b[skip + 1] != 0x08)) return 0;
    return 2 + skip;
}

bool cache_exit(struct vmm *v, const uint64_t *w, struct vmm_reply *r)
{
    unsigned len = cache_insn(v, w);
    if (!len) return false;
    if (vmm_once(&v->st->once, VMM_ONCE_CACHE))
        vmm_log(v, "guest cache flush (WBINVD/INVD) at rip 0x%lx: skipped", w[RS_EXIT_MR_RIP]);
    reply_init(r, 0);
    reply_set_rip(r, w[RS_EXIT_MR_RIP] + len);
    return true;
}
