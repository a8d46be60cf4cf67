// SPDX-License-Identifier: MIT
// Boot memory and the root task. The boot allocator takes pages from the top of free RAM for
// the kernel's page tables and init's initial objects; whatever is left becomes untyped caps.
#include "boot_root.h"
#include "cap.h"
#include "cdt.h"
#include "tcb.h"
#include "sched.h"
#include "vspace.h"
#include "irq.h"
#include "console.h"
#include "kstring.h"
#include "elf.h"
#include "devmem.h"
#include <resurgo/bootinfo.h>
#include <resurgo/objects.h>

#define MAX_FREE           96
#define PAGE               4096ull
#define INIT_CNODE_RADIX   13
#define INIT_STACK_PAGES   16
#define INIT_MODULES_VADDR 0x10000000000ull

static struct boot_region free_ram[MAX_FREE];
static int free_count;
static uint64_t max_phys;

uint64_t boot_max_phys(void) { return max_phys; }

static void reserve(uint64_t base, uint64_t end)
{
    for (int i = 0; i < free_count; i++) {
        uint64_t b = free_ram[i].base, e = b + free_ram[i].size;
        if (end <= b || base >= e) continue;
        if (base > b && end < e && free_count < MAX_FREE) { // split in two
            free_ram[free_count++] = (struct boot_region){end, e - end};
            free_ram[i].size = base - b;
        } else if (base <= b) {
            free_ram[i] = (struct boot_region){end < e ? end : e, end < e ? e - end : 0};
        } else {
            free_ram[i].size = base - b;
        }
    }
}

void boot_memory_init(struct boot_info *bi)
{
    extern char __image_end[];
    // The physmap (arch_paging_init) reaches 512 GiB: RAM above it could be neither zeroed nor
    // used by the kernel, so it is left out (and logged).
    const uint64_t limit = 512ull << 30;
    uint64_t beyond = 0;
    for (int i = 0; i < bi->ram_count && free_count < MAX_FREE; i++) {
        uint64_t b = (bi->ram[i].base + PAGE - 1) & ~(PAGE - 1);
        uint64_t e = (bi->ram[i].base + bi->ram[i].size) & ~(PAGE - 1);
        if (e > limit && e > b) {
            beyond += e - (b > limit ? b : limit);
            e = limit;
        }
        if (e > max_phys) max_phys = e;
        if (e > b) free_ram[free_count++] = (struct boot_region){b, e - b};
    }
    if (beyond) kprintf("mem: %lu MiB above 512 GiB not used (beyond the physmap)\n", beyond >> 20);
    reserve(0, 0x100000); // BIOS data, EBDA, option ROMs
    reserve(0x100000, ((uint64_t)__image_end - KERNEL_VMA + PAGE - 1) & ~(PAGE - 1));
    for (int i = 0; i < bi->module_count; i++)
        reserve(bi->modules[i].base & ~(PAGE - 1),
                (bi->modules[i].base + bi->modules[i].size + PAGE - 1) & ~(PAGE - 1));
}

/* Takes `size` bytes aligned to `align` from the top of a free region (below 4 GiB first, as
 * the boot page tables only map that much until paging is set up). */
static uint64_t boot_alloc(uint64_t size, uint64_t align)
{
    for (int i = free_count - 1; i >= 0; i--) {
        uint64_t b = free_ram[i].base, e = b + free_ram[i].size;
        if (e > (4ull << 30)) e = 4ull << 30;
        if (e < size) continue;
        uint64_t start = (e - size) & ~(align - 1);
        if (start < b) continue;
        uint64_t tail = b + free_ram[i].size;
        free_ram[i].size = start - b;
        if (tail > start + size && free_count < MAX_FREE) // what lies above (alignment, > 4 GiB)
            free_ram[free_count++] = (struct boot_region){start + size, tail - start - size};
        memset(PHYS_TO_VIRT(start), 0, size);
        return start;
    }
    panic("boot: out of memory allocating %lu bytes", size);
}

uint64_t boot_alloc_page(void) { return boot_alloc(PAGE, PAGE); }

/* ELF64 loading of the root task, straight into its VSpace. The module is trusted (it is part
 * of the boot image) but still checked, so that a broken build fails with a message. */
static uint64_t load_elf(struct cap *vspace, const uint8_t *img, uint64_t size)
{
    unsigned phnum;
    const struct elf64_phdr *ph = elf_check(img, size, USER_TOP, &phnum);
    if (!ph) panic("boot: init module is not a well-formed x86-64 ELF");
    for (unsigned i = 0; i < phnum; i++) {
        if (ph[i].type != PT_LOAD || !ph[i].memsz) continue;
        unsigned rights = RS_RIGHT_READ | ((ph[i].flags & 2) ? RS_RIGHT_WRITE : 0) |
                          ((ph[i].flags & 1) ? RS_RIGHT_EXEC : 0);
        uint64_t start = ph[i].vaddr & ~(PAGE - 1),
                 end = (ph[i].vaddr + ph[i].memsz + PAGE - 1) & ~(PAGE - 1);
        for (uint64_t va = start; va < end; va += PAGE) {
            uint64_t pa = boot_alloc_page();
            uint8_t *dst = PHYS_TO_VIRT(pa);
            // copy the part of the file image that falls into this page
            uint64_t file_lo = ph[i].vaddr, file_hi = ph[i].vaddr + ph[i].filesz;
            uint64_t lo = va > file_lo ? va : file_lo,
                     hi = va + PAGE < file_hi ? va + PAGE : file_hi;
            if (lo < hi) memcpy(dst + (lo - va), img + ph[i].offset + (lo - file_lo), hi - lo);
            vspace_map_boot(vspace, va, pa, rights, boot_alloc_page);
        }
    }
    return ((const struct elf64_ehdr *)img)->entry;
}

static struct slot *init_slots;

static struct slot *root_cap(unsigned index, struct cap c)
{
    struct slot *s = &init_slots[index];
    s->cap = c;
    cdt_insert(NULL, s);
    return s;
}

static void tcb_take(struct tcb *t, enum tcb_slot which, struct slot *src)
{
    t->slots[which].cap = src->cap;
    cdt_insert(src, &t->slots[which]);
}

/* Hands [b, e) to init as naturally aligned power-of-two untyped caps (device ones carry
 * CAP_FLAG_DEVICE and is_device). Returns the bytes that did not fit (bootinfo or CNode full). */
static uint64_t hand_out(rs_bootinfo_t *bi, uint64_t *next_slot, uint64_t b, uint64_t e,
                         bool device, uint64_t *total)
{
    while (e - b >= PAGE) {
        unsigned bits = 12;
        while (bits < RS_MAX_UNTYPED_BITS && !(b & ((1ull << (bits + 1)) - 1)) &&
               b + (1ull << (bits + 1)) <= e)
            bits++;
        uint64_t n = *next_slot - bi->untyped.start;
        if (n >= RS_BOOT_MAX_UNTYPED || *next_slot >= (1u << INIT_CNODE_RADIX)) return e - b;
        root_cap((unsigned)(*next_slot)++, (struct cap){.type = RS_CAP_UNTYPED,
                                                        .rights = RS_RIGHTS_ALL,
                                                        .bits = (uint8_t)bits,
                                                        .flags = device ? CAP_FLAG_DEVICE : 0,
                                                        .obj = (uint64_t)PHYS_TO_VIRT(b)});
        bi->untyped_list[n] =
            (rs_untyped_desc_t){.paddr = b, .size_bits = (uint8_t)bits, .is_device = device};
        *total += 1ull << bits;
        b += 1ull << bits;
    }
    return 0;
}

/* Splits the free RAM that is left into naturally aligned power-of-two untyped caps. */
static void give_untyped(rs_bootinfo_t *bi, uint64_t *next_slot)
{
    uint64_t lost = 0, total = 0;
    bi->untyped.start = *next_slot;
    for (int i = 0; i < free_count; i++)
        lost += hand_out(bi, next_slot, free_ram[i].base, free_ram[i].base + free_ram[i].size,
                         false, &total);
    bi->untyped.end = *next_slot;
    kprintf("boot: %lu untyped caps, %lu KiB for init", bi->untyped.end - bi->untyped.start,
            total >> 10);
    if (lost) kprintf(" (%lu KiB not handed out: too many fragments)", lost >> 10);
    kprintf("\n");
}

/* Device untyped for init (after the RAM ones, same slot range): every page between 1 MiB and
 * the IO-APIC that the memory map does not list at all, i.e. not RAM, not reserved or ACPI, not
 * the framebuffer; the kernel and modules lie in RAM. PCI memory BARs are placed there by the
 * firmware (the "PCI hole" below 4 GiB). Only frames can be made from them (untyped.c). */
static void give_device_untyped(rs_bootinfo_t *info, const struct boot_info *bi,
                                uint64_t *next_slot)
{
    if (bi->ram_dropped || bi->used_dropped) {
        // an unrecorded region could be RAM or firmware's: a "gap" over it must not be handed out
        kprintf("boot: no device untyped: the memory map has more regions than recorded\n");
        return;
    }
    static struct devmem_range excl[2 * BOOT_MAX_REGIONS + BOOT_MAX_MODULES + 1], out[32];
    int n = 0;
    for (int i = 0; i < bi->ram_count; i++)
        excl[n++] = (struct devmem_range){bi->ram[i].base, bi->ram[i].base + bi->ram[i].size};
    for (int i = 0; i < bi->used_count; i++) {
        uint64_t e = bi->used[i].base + bi->used[i].size;
        excl[n++] = (struct devmem_range){bi->used[i].base, e < bi->used[i].base ? UINT64_MAX : e};
    }
    for (int i = 0; i < bi->module_count; i++)
        excl[n++] =
            (struct devmem_range){bi->modules[i].base, bi->modules[i].base + bi->modules[i].size};
    extern char __image_end[];
    excl[n++] = (struct devmem_range){0, (uint64_t)__image_end - KERNEL_VMA};
    int count = devmem_ranges(excl, n, DEVMEM_LOW, DEVMEM_HIGH, out, 32);
    uint64_t first = *next_slot, total = 0, lost = 0;
    for (int i = 0; i < count; i++) {
        kprintf("boot: device memory %lx-%lx\n", out[i].base, out[i].end - 1);
        lost += hand_out(info, next_slot, out[i].base, out[i].end, true, &total);
    }
    info->untyped.end = *next_slot;
    kprintf("boot: %lu device untyped caps, %lu KiB", *next_slot - first, total >> 10);
    if (lost) kprintf(" (%lu KiB not handed out: too many fragments)", lost >> 10);
    kprintf("\n");
}

void boot_create_root(struct boot_info *bi, unsigned bi_tick_us)
{
    if (bi->module_count < 1)
        panic("boot: no modules: the root task (init) must be the first module");
    // objects of init itself come from boot memory: they are not in any untyped
    uint64_t cnode_pa = boot_alloc(PAGE << (INIT_CNODE_RADIX + RS_SLOT_BITS - 12),
                                   PAGE << (INIT_CNODE_RADIX + RS_SLOT_BITS - 12));
    init_slots = PHYS_TO_VIRT(cnode_pa);
    struct tcb *t = PHYS_TO_VIRT(boot_alloc_page());
    uint64_t pml4_pa = boot_alloc_page(), bi_pa = boot_alloc_page(), ipc_pa = boot_alloc_page();
    uint32_t asid;
    vspace_init(PHYS_TO_VIRT(pml4_pa), &asid);
    tcb_init(t);

    struct cap cnode_cap = {.type = RS_CAP_CNODE,
                            .rights = RS_RIGHTS_ALL,
                            .bits = INIT_CNODE_RADIX,
                            .obj = (uint64_t)init_slots};
    cap_set_guard(&cnode_cap, 64 - INIT_CNODE_RADIX, 0); // a single-level CSpace for 64-bit cptrs
    struct slot *cn = root_cap(RS_INIT_CNODE, cnode_cap);
    struct cap vspace_cap = {
        .type = RS_CAP_VSPACE, .rights = RS_RIGHTS_ALL, .obj = (uint64_t)PHYS_TO_VIRT(pml4_pa)};
    cap_set_asid(&vspace_cap, asid);
    struct slot *vs = root_cap(RS_INIT_VSPACE, vspace_cap);
    root_cap(RS_INIT_TCB,
             (struct cap){.type = RS_CAP_TCB, .rights = RS_RIGHTS_ALL, .obj = (uint64_t)t});
    root_cap(RS_INIT_IRQ_CONTROL,
             (struct cap){.type = RS_CAP_IRQ_CONTROL, .rights = RS_RIGHTS_ALL});
    root_cap(RS_INIT_IOPORT_CONTROL,
             (struct cap){.type = RS_CAP_IOPORT_CONTROL, .rights = RS_RIGHTS_ALL});
    // the ranges only platform code may own (PCI configuration, timers, resets): see ioport.c
    root_cap(RS_INIT_IOPORT_PLATFORM, (struct cap){.type = RS_CAP_IOPORT_CONTROL,
                                                   .rights = RS_RIGHTS_ALL,
                                                   .small = IOPORT_CONTROL_PLATFORM});
    // the console and power-off are authorities too: init decides who may print or stop the machine
    root_cap(RS_INIT_CONSOLE,
             (struct cap){.type = RS_CAP_CONSOLE, .rights = RS_RIGHT_READ | RS_RIGHT_WRITE});
    root_cap(RS_INIT_SHUTDOWN, (struct cap){.type = RS_CAP_SHUTDOWN, .rights = RS_RIGHTS_ALL});
    struct cap frame = {.type = RS_CAP_FRAME, .rights = RS_RIGHTS_ALL & ~RS_RIGHT_EXEC, .bits = 12};
    frame.obj = (uint64_t)PHYS_TO_VIRT(bi_pa);
    root_cap(RS_INIT_BOOTINFO_FRAME, frame);
    frame.obj = (uint64_t)PHYS_TO_VIRT(ipc_pa);
    struct slot *ipc = root_cap(RS_INIT_IPC_BUFFER, frame);

    struct cap *v = &vs->cap;
    uint64_t entry = load_elf(v, PHYS_TO_VIRT(bi->modules[0].base), bi->modules[0].size);
    uint64_t stack_top = RS_BOOTINFO_VADDR - PAGE; // one unmapped guard page below bootinfo
    for (unsigned i = 1; i <= INIT_STACK_PAGES; i++)
        vspace_map_boot(v, stack_top - i * PAGE, boot_alloc_page(), RS_RIGHT_READ | RS_RIGHT_WRITE,
                        boot_alloc_page);
    vspace_map_boot(v, RS_BOOTINFO_VADDR, bi_pa, RS_RIGHT_READ, boot_alloc_page);
    uint64_t ipc_va = RS_BOOTINFO_VADDR + 16 * PAGE;
    vspace_map_boot(v, ipc_va, ipc_pa, RS_RIGHT_READ | RS_RIGHT_WRITE, boot_alloc_page);

    rs_bootinfo_t *info = PHYS_TO_VIRT(bi_pa);
    info->magic = RS_BOOTINFO_MAGIC;
    info->cnode_radix = INIT_CNODE_RADIX;
    info->ipc_buffer_vaddr = ipc_va;
    info->tsc_per_ms = arch_tsc_per_ms;
    info->timer_tick_us = bi_tick_us;
    arch_tick_latency_out = info->tick_latency;
    arch_tick_count_out = &info->tick_count;
    memcpy(info->cmdline, bi->cmdline, sizeof(info->cmdline));
    uint64_t mod_va = INIT_MODULES_VADDR;
    for (int m = 0; m < bi->module_count && m < RS_BOOT_MAX_MODULES; m++) {
        rs_boot_module_t *bm = &info->modules[info->module_count++];
        memcpy(bm->name, bi->modules[m].name, sizeof(bm->name));
        bm->vaddr = mod_va + (bi->modules[m].base & (PAGE - 1));
        bm->size = bi->modules[m].size;
        uint64_t pa = bi->modules[m].base & ~(PAGE - 1),
                 end = bi->modules[m].base + bi->modules[m].size;
        for (; pa < end; pa += PAGE, mod_va += PAGE)
            vspace_map_boot(v, mod_va, pa, RS_RIGHT_READ, boot_alloc_page);
        mod_va += PAGE; // a hole between modules
    }
    // A copy of the DSDT for init's _PRT reader: firmware memory itself is not handed out.
    uint32_t dsdt_len = 0;
    const uint8_t *dsdt = arch_acpi_dsdt(&dsdt_len);
    if (dsdt && dsdt_len > RS_BOOT_MAX_DSDT)
        kprintf("boot: DSDT of %u bytes too long for init (at most %u)\n", dsdt_len,
                RS_BOOT_MAX_DSDT);
    else if (dsdt) {
        info->acpi_dsdt_vaddr = mod_va;
        info->acpi_dsdt_size = dsdt_len;
        for (uint32_t off = 0; off < dsdt_len; off += PAGE, mod_va += PAGE) {
            uint64_t pa = boot_alloc_page();
            uint32_t n = dsdt_len - off < PAGE ? dsdt_len - off : (uint32_t)PAGE;
            memset(PHYS_TO_VIRT(pa), 0, PAGE);
            memcpy(PHYS_TO_VIRT(pa), dsdt + off, n);
            vspace_map_boot(v, mod_va, pa, RS_RIGHT_READ, boot_alloc_page);
        }
    }

    uint64_t next = RS_INIT_FIRST_FREE_FIXED;
    give_untyped(info, &next);
    give_device_untyped(info, bi, &next);
    info->empty = (rs_slot_range_t){next, 1u << INIT_CNODE_RADIX};

    tcb_take(t, TCB_SLOT_CSPACE, cn);
    tcb_take(t, TCB_SLOT_VSPACE, vs);
    tcb_take(t, TCB_SLOT_IPCBUF, ipc);
    t->ipc_buffer_vaddr = ipc_va;
    t->prio = t->mcp = 255;
    t->ctx.rip = entry;
    t->ctx.rsp = stack_top - 8; // as if called: keeps the ABI's 16-byte alignment at entry
    t->ctx.rdi = RS_BOOTINFO_VADDR;
    memcpy(t->name, "init", 5);
    sched_make_runnable(t, false);
    kprintf("boot: init '%s' entry %lx, %d modules\n", bi->modules[0].name, entry,
            bi->module_count);
}
