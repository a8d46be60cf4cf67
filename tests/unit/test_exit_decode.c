// SPDX-License-Identifier: MIT
// Host tests of the two backends' exit decoders (kernel/arch/x86_64/svm/svm_decode.c and
// kernel/arch/x86_64/vmx/vmx_decode.c): the same guest event, as a VMCB exit and as the
// equivalent VMCS exit qualification, gives the same vendor-neutral qualification.
#include <criterion/criterion.h>
#include <string.h>
#include "svm/svm.h"
#include "vmx/vmx.h"

/* What the decoders use of the rest of the backends, which this test does not link. */
uint32_t svm_features; /* no NRIPS: instruction lengths are the unprefixed ones */
struct vmx_caps vmx_caps;
static int window_calls;
void svm_want_window(struct vcpu *v, bool on) { (void)v, (void)on, window_calls++; }
void vmx_insn_failed(const char *insn, uint64_t arg)
{
    cr_assert_fail("%s %lx", insn, (unsigned long)arg);
}

static struct vcpu vcpu;
static struct vmcb vmcb;

/* The SVM decoder's view of one exit. */
static struct vcpu_exit svm_decode(uint64_t code, uint64_t info1, uint64_t info2, uint64_t rip)
{
    memset(&vmcb, 0, sizeof(vmcb));
    vmcb.exitcode = code, vmcb.exitinfo1 = info1, vmcb.exitinfo2 = info2, vmcb.rip = rip;
    struct vcpu_exit e;
    svm_exit_decode(&vcpu, &vmcb, &e);
    return e;
}

/* IN/OUT/INS/OUTS, port, size, REP as both CPUs describe them: SVM's IOIO EXITINFO1 (APM vol. 2
 * 15.10.2: bit 0 IN, 2 string, 3 REP, 4/5/6 size 8/16/32, 31:16 port) and VT-x's exit
 * qualification (SDM vol. 3C 27.2.1 table 27-5: size - 1 in 2:0, 3 IN, 4 string, 5 REP, 31:16
 * port). */
Test(exit_decode, io_is_the_same_on_both_backends)
{
    const uint16_t ports[] = {0x60, 0xE9, 0x3F8, 0xFFFF};
    const unsigned sizes[] = {1, 2, 4};
    unsigned n = 0;
    for (unsigned p = 0; p < 4; p++)
        for (unsigned s = 0; s < 3; s++)
            for (unsigned bits = 0; bits < 8; bits++) {
                bool in = bits & 1, string = bits & 2, rep = bits & 4;
                unsigned size = sizes[s];
                uint64_t svm_info1 = (uint64_t)ports[p] << 16 | (in ? 1 : 0) | (string ? 4 : 0) |
                                     (rep ? 8 : 0) |
                                     (size == 1   ? 0x10
                                      : size == 2 ? 0x20
                                                  : 0x40);
                uint64_t vmx_q = (uint64_t)ports[p] << 16 | (size - 1) | (in ? 8 : 0) |
                                 (string ? 16 : 0) | (rep ? 32 : 0);
                struct vcpu_exit e = svm_decode(SVM_EXIT_IOIO, svm_info1, 0x1002, 0x1000);
                uint64_t want = rs_io_qual(ports[p], size, in, string, rep);
                cr_assert_eq(e.reason, RS_EXIT_IO);
                cr_assert_eq(e.qual, want, "SVM: port %x size %u bits %u: %lx, not %lx", ports[p],
                             size, bits, (unsigned long)e.qual, (unsigned long)want);
                cr_assert_eq(vmx_io_qual(vmx_q), e.qual,
                             "VMX and SVM differ: port %x size %u bits %u", ports[p], size, bits);
                cr_assert_eq(e.insn_len, 2, "SVM: the length from EXITINFO2 (next RIP)");
                cr_assert_eq(rs_io_qual_port(e.qual), ports[p]);
                cr_assert_eq(rs_io_qual_size(e.qual), size);
                cr_assert_eq(rs_io_qual_in(e.qual), in);
                cr_assert_eq(rs_io_qual_string(e.qual), string);
                cr_assert_eq(rs_io_qual_rep(e.qual), rep);
                n++;
            }
    cr_assert_eq(n, 96);
}

/* A guest-physical access that faults: SVM's nested #PF error code in EXITINFO1 (APM vol. 2
 * 15.25.6: bit 0 present, 1 write, 2 user (always, for nested walks), 4 fetch) and VT-x's
 * EPT-violation qualification (SDM vol. 3C 27.2.1 table 27-7: bit 0 read, 1 write, 2 fetch,
 * 3-5 what the entry allowed, 7 linear address valid). */
Test(exit_decode, guest_faults_are_the_same_on_both_backends)
{
    const struct {
        const char *what;
        uint64_t svm_info1, vmx_q, want;
    } cases[] = {
        {"read, unmapped", 0x4, 0x1 | 0x80, RS_FAULT_QUAL_READ},
        {"write, unmapped", 0x4 | 0x2, 0x2 | 0x80, RS_FAULT_QUAL_WRITE},
        {"fetch, unmapped", 0x4 | 0x10, 0x4 | 0x80, RS_FAULT_QUAL_FETCH},
        {"write, read-only mapping", 0x4 | 0x2 | 0x1, 0x2 | 0x8 | 0x80,
         RS_FAULT_QUAL_WRITE | RS_FAULT_QUAL_PRESENT},
        {"fetch, no-execute mapping", 0x4 | 0x10 | 0x1, 0x4 | 0x8 | 0x10 | 0x80,
         RS_FAULT_QUAL_FETCH | RS_FAULT_QUAL_PRESENT},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vcpu_exit e = svm_decode(SVM_EXIT_NPF, cases[i].svm_info1, 0xFED00004, 0x1000);
        cr_assert_eq(e.reason, RS_EXIT_GUEST_FAULT, "%s", cases[i].what);
        cr_assert_eq(e.gpa, 0xFED00004, "%s: the exact address", cases[i].what);
        cr_assert_eq(e.insn_len, 0, "%s: the VMM decodes the instruction", cases[i].what);
        cr_assert_eq(e.qual, cases[i].want, "%s: SVM %lx", cases[i].what, (unsigned long)e.qual);
        cr_assert_eq(vmx_ept_qual(cases[i].vmx_q), cases[i].want, "%s: VMX %lx", cases[i].what,
                     (unsigned long)vmx_ept_qual(cases[i].vmx_q));
    }
}

/* The rest of the SVM decoder: what each exit code becomes. */
Test(exit_decode, svm_exit_codes)
{
    vcpu.gpr[RS_GPR_RCX] = 0xC0000080;
    struct vcpu_exit e = svm_decode(SVM_EXIT_CPUID, 0, 0, 0x2000);
    cr_assert(e.reason == RS_EXIT_CPUID && e.insn_len == 2 && e.rip == 0x2000);
    e = svm_decode(SVM_EXIT_MSR, 1, 0, 0);
    cr_assert(e.reason == RS_EXIT_MSR_WRITE && e.qual == 0xC0000080 && e.insn_len == 2);
    e = svm_decode(SVM_EXIT_MSR, 0, 0, 0);
    cr_assert(e.reason == RS_EXIT_MSR_READ && e.qual == 0xC0000080);
    e = svm_decode(SVM_EXIT_HLT, 0, 0, 0);
    cr_assert(e.reason == RS_EXIT_HLT && e.insn_len == 1);
    e = svm_decode(SVM_EXIT_VMMCALL, 0, 0, 0);
    cr_assert(e.reason == RS_EXIT_VMCALL && e.insn_len == 3);
    e = svm_decode(SVM_EXIT_INTR, 0, 0, 0);
    cr_assert_eq(e.reason, RS_EXIT_NONE, "a host interrupt is the host's");
    window_calls = 0;
    e = svm_decode(SVM_EXIT_VINTR, 0, 0, 0);
    cr_assert(e.reason == RS_EXIT_INTR_WINDOW && window_calls == 1, "the window request ends");
    e = svm_decode(SVM_EXIT_EXCP_BASE + 17, 0, 0, 0); // #AC, error code 0
    cr_assert(e.reason == RS_EXIT_EXCEPTION && e.qual == 17);
    e = svm_decode(SVM_EXIT_EXCP_BASE + 13, 0x18, 0, 0); // #GP with an error code
    cr_assert(e.reason == RS_EXIT_EXCEPTION && e.qual == (13 | 0x18ull << 32));
    e = svm_decode(SVM_EXIT_SHUTDOWN, 0, 0, 0);
    cr_assert_eq(e.reason, RS_EXIT_TRIPLE_FAULT);
    e = svm_decode(0xFFFFFFFF, 0, 0, 0); // QEMU writes VMEXIT_INVALID as 32 bits
    cr_assert_eq(e.reason, RS_EXIT_INVALID_STATE);
}
