// SPDX-License-Identifier: MIT
// VT-x exit qualifications as the vendor-neutral ones: pure functions of the qualification, so
// the host unit tests compare them with the SVM decoder's (tests/unit/test_exit_decode.c).
#include "vmx.h"

/* I/O qualification (SDM 27.2.1, table 27-5): size - 1 in 2:0, IN in 3, string in 4, REP in 5,
 * port in 31:16; to the vendor-neutral rs_io_qual. */
uint64_t vmx_io_qual(uint64_t q)
{
    return rs_io_qual((uint16_t)(q >> 16), (unsigned)(q & 7) + 1, q & 8, q & 16, q & 32);
}

/* EPT-violation qualification (27.2.1, table 27-7): bits 0-2 are read / write / fetch; bits 3-5
 * the rights the EPT entry did give: any of them means a mapping exists. */
uint64_t vmx_ept_qual(uint64_t q) { return rs_fault_qual(q & 1, q & 2, q & 4, q & 0x38); }
