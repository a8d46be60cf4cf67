// SPDX-License-Identifier: MIT
// EPT: the guest-physical table entry format, the EPT pointer, and INVEPT / INVVPID.
#include <resurgo/rights.h>
#include "vmx.h"

/* EPT paging-structure entries (SDM 28.2.2, tables 28-1..28-6): bits 2:0 read/write/execute
 * (an entry with all three clear is not present), leaf bits 5:3 memory type, 51:12 address. */
// clang-format off
#define EPT_R       (1ull << 0)
#define EPT_W       (1ull << 1)
#define EPT_X       (1ull << 2)
#define EPT_RWX     (EPT_R | EPT_W | EPT_X)
#define EPT_MT_WB   (6ull << 3)
#define EPT_IPAT    (1ull << 6) /* ignore the guest's PAT (28.2.6.2): RAM stays WB as in the physmap */
#define EPT_ADDR    0x000FFFFFFFFFF000ull
// clang-format on

/* The GuestSpace's tables are made of these entries; non-leaf entries grant everything and the
 * leaf decides. Write-only and (without the capability) execute-only leaves would be EPT
 * misconfigurations (28.2.3.1), so write and execute imply read where needed. */
uint64_t vmx_guest_pte(uint64_t phys, unsigned rights, bool leaf)
{
    if (!leaf) return (phys & EPT_ADDR) | EPT_RWX;
    uint64_t e = (phys & EPT_ADDR) | EPT_MT_WB | EPT_IPAT;
    if (rights & RS_RIGHT_READ) e |= EPT_R;
    if (rights & RS_RIGHT_WRITE) e |= EPT_R | EPT_W;
    if (rights & RS_RIGHT_EXEC) e |= EPT_X | (vmx_caps.ept_vpid & EPT_CAP_EXEC_ONLY ? 0 : EPT_R);
    return e;
}

bool vmx_guest_pte_present(uint64_t pte) { return (pte & EPT_RWX) != 0; }

/* EPTP (24.6.11): memory type WB in 2:0, page-walk length - 1 = 3 in 5:3, no A/D flags. */
uint64_t ept_pointer(uint64_t root_phys) { return (root_phys & EPT_ADDR) | 6 | (3 << 3); }

/* Drops the guest-physical and combined mappings cached for the EPT rooted at root_phys, for
 * every VPID (28.3.3.1, 28.3.3.4): needed after an entry loses rights or goes away, and before a
 * root that may have been used before is used again. New mappings need nothing: not-present entries
 * are never cached (28.3.2). */
void ept_invalidate(uint64_t root_phys)
{
    struct {
        uint64_t eptp, zero;
    } desc = {ept_pointer(root_phys), 0};
    uint64_t type = vmx_caps.ept_vpid & EPT_CAP_INVEPT_SINGLE ? INVEPT_SINGLE : INVEPT_ALL;
    bool bad;
    __asm__ volatile("invept %1, %2; setna %0"
                     : "=qm"(bad)
                     : "m"(desc), "r"(type)
                     : "cc", "memory");
    if (bad) vmx_insn_failed("invept", type);
}

/* Drops the linear and combined mappings tagged with `vpid` (28.3.3.3): a VPID taken over by
 * another VCPU, or guest paging state changed from outside the guest. */
void vpid_invalidate(uint16_t vpid)
{
    if (!vmx_caps.vpid || !vpid) return;
    struct {
        uint64_t vpid, addr;
    } desc = {vpid, 0};
    uint64_t type = vmx_caps.ept_vpid & VPID_CAP_INVVPID_SINGLE ? INVVPID_SINGLE : INVVPID_ALL;
    bool bad;
    __asm__ volatile("invvpid %1, %2; setna %0"
                     : "=qm"(bad)
                     : "m"(desc), "r"(type)
                     : "cc", "memory");
    if (bad) vmx_insn_failed("invvpid", type);
}
