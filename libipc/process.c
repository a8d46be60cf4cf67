// SPDX-License-Identifier: MIT
// The user-level object toolkit: slot/untyped allocators, invocation stubs, mapping with page
// tables made on demand, and process/thread creation (see process.h for the contracts).
#include "process.h"
#include "elf.h"
#include "kstring.h"

/* ---------------------------------------------------------------- invocation stubs */

int ps_invoke(rs_cptr_t cap, rs_word_t label, const rs_word_t *args, unsigned nargs,
              const rs_cptr_t *caps, unsigned ncaps)
{
    if (nargs > RS_MSG_MAX_LENGTH || ncaps > RS_MSG_MAX_EXTRA_CAPS) return RS_INVALID_ARGUMENT;
    for (unsigned i = 0; i < nargs; i++) rs_mr_set(i, args[i]);
    for (unsigned i = 0; i < ncaps; i++) rs_cap_set(i, caps[i]);
    return (int)rs_call(cap, rs_msginfo(label, 0, ncaps, nargs)).error;
}

/* Invocation with arguments and up to three extra caps (ncaps of c0..c2 used). */
static int inv(rs_cptr_t cap, rs_word_t label, unsigned nargs, const rs_word_t *args,
               unsigned ncaps, rs_cptr_t c0, rs_cptr_t c1, rs_cptr_t c2)
{
    const rs_cptr_t caps[3] = {c0, c1, c2};
    return ps_invoke(cap, label, args, nargs, caps, ncaps);
}

int ps_untyped_retype(rs_cptr_t ut, rs_cptr_t root, unsigned type, unsigned size_bits,
                      rs_cptr_t node_index, unsigned node_depth, rs_cptr_t offset, unsigned count)
{
    const rs_word_t a[] = {type, size_bits, node_index, node_depth, offset, count};
    return inv(ut, RS_UNTYPED_RETYPE, 6, a, 1, root, 0, 0);
}

static int cnode_op(rs_word_t label, unsigned nargs, rs_cptr_t dest_root, rs_cptr_t dest,
                    unsigned dest_depth, rs_cptr_t src_root, rs_cptr_t src, unsigned src_depth,
                    unsigned rights, rs_badge_t badge)
{
    const rs_word_t a[] = {dest, dest_depth, src, src_depth, rights, badge};
    return inv(dest_root, label, nargs, a, 1, src_root, 0, 0);
}

int ps_cnode_copy(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                  rs_cptr_t src, unsigned src_depth)
{
    return cnode_op(RS_CNODE_COPY, 4, dest_root, dest, dest_depth, src_root, src, src_depth, 0, 0);
}

int ps_cnode_mint(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                  rs_cptr_t src, unsigned src_depth, unsigned rights, rs_badge_t badge)
{
    return cnode_op(RS_CNODE_MINT, 6, dest_root, dest, dest_depth, src_root, src, src_depth, rights,
                    badge);
}

int ps_cnode_move(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                  rs_cptr_t src, unsigned src_depth)
{
    return cnode_op(RS_CNODE_MOVE, 4, dest_root, dest, dest_depth, src_root, src, src_depth, 0, 0);
}

int ps_cnode_mutate(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                    rs_cptr_t src, unsigned src_depth, unsigned rights)
{
    return cnode_op(RS_CNODE_MUTATE, 5, dest_root, dest, dest_depth, src_root, src, src_depth,
                    rights, 0);
}

int ps_cnode_delete(rs_cptr_t root, rs_cptr_t index, unsigned depth)
{
    const rs_word_t a[] = {index, depth};
    return inv(root, RS_CNODE_DELETE, 2, a, 0, 0, 0, 0);
}

int ps_cnode_revoke(rs_cptr_t root, rs_cptr_t index, unsigned depth)
{
    const rs_word_t a[] = {index, depth};
    return inv(root, RS_CNODE_REVOKE, 2, a, 0, 0, 0, 0);
}

int ps_tcb_configure(rs_cptr_t tcb, rs_cptr_t cspace, rs_cptr_t vspace, rs_cptr_t ipc_frame,
                     uint64_t ipc_vaddr)
{
    const rs_word_t a[] = {0, ipc_vaddr};
    return inv(tcb, RS_TCB_CONFIGURE, 2, a, ipc_frame ? 3 : 2, cspace, vspace, ipc_frame);
}

int ps_tcb_set_priority(rs_cptr_t tcb, rs_cptr_t authority, uint64_t prio)
{
    return inv(tcb, RS_TCB_SET_PRIORITY, 1, &prio, 1, authority, 0, 0);
}

int ps_tcb_set_mcp(rs_cptr_t tcb, rs_cptr_t authority, uint64_t mcp)
{
    return inv(tcb, RS_TCB_SET_MCP, 1, &mcp, 1, authority, 0, 0);
}

int ps_tcb_set_fault_handler(rs_cptr_t tcb, rs_cptr_t ep)
{
    return inv(tcb, RS_TCB_SET_FAULT_HANDLER, 0, NULL, ep ? 1 : 0, ep, 0, 0);
}

int ps_tcb_read_registers(rs_cptr_t tcb, bool suspend, unsigned n, uint64_t *regs)
{
    const rs_word_t a[] = {suspend, n};
    int err = inv(tcb, RS_TCB_READ_REGISTERS, 2, a, 0, 0, 0, 0);
    if (err == RS_OK && regs)
        for (unsigned i = 0; i < n && i < RS_REG_COUNT; i++) regs[i] = rs_mr_get(i);
    return err;
}

int ps_tcb_write_registers(rs_cptr_t tcb, bool resume, unsigned n, const uint64_t *regs)
{
    rs_word_t a[2 + RS_REG_COUNT] = {resume, n};
    if (n > RS_REG_COUNT) // the kernel refuses the count before it reads any register
        return inv(tcb, RS_TCB_WRITE_REGISTERS, 2, a, 0, 0, 0, 0);
    for (unsigned i = 0; i < n; i++) a[2 + i] = regs[i];
    return inv(tcb, RS_TCB_WRITE_REGISTERS, 2 + n, a, 0, 0, 0, 0);
}

int ps_tcb_suspend(rs_cptr_t tcb) { return inv(tcb, RS_TCB_SUSPEND, 0, NULL, 0, 0, 0, 0); }
int ps_tcb_resume(rs_cptr_t tcb) { return inv(tcb, RS_TCB_RESUME, 0, NULL, 0, 0, 0, 0); }

int ps_tcb_bind_notification(rs_cptr_t tcb, rs_cptr_t ntfn)
{
    return inv(tcb, RS_TCB_BIND_NOTIFICATION, 0, NULL, 1, ntfn, 0, 0);
}

int ps_tcb_unbind_notification(rs_cptr_t tcb)
{
    return inv(tcb, RS_TCB_UNBIND_NOTIFICATION, 0, NULL, 0, 0, 0, 0);
}

int ps_tcb_set_tls_base(rs_cptr_t tcb, uint64_t base)
{
    return inv(tcb, RS_TCB_SET_TLS_BASE, 1, &base, 0, 0, 0, 0);
}

int ps_tcb_set_name(rs_cptr_t tcb, const char *name)
{
    rs_word_t w[2] = {0, 0};
    size_t n = name ? strlen(name) : 0;
    memcpy(w, name ? name : "", n < 15 ? n : 15);
    return inv(tcb, RS_TCB_SET_NAME, 2, w, 0, 0, 0, 0);
}

int ps_frame_map(rs_cptr_t frame, rs_cptr_t vspace, uint64_t vaddr, unsigned rights, unsigned attr)
{
    const rs_word_t a[] = {vaddr, rights, attr};
    return inv(frame, RS_FRAME_MAP, 3, a, 1, vspace, 0, 0);
}

int ps_frame_unmap(rs_cptr_t frame) { return inv(frame, RS_FRAME_UNMAP, 0, NULL, 0, 0, 0, 0); }

int ps_frame_get_address(rs_cptr_t frame, uint64_t *paddr)
{
    int err = inv(frame, RS_FRAME_GET_ADDRESS, 0, NULL, 0, 0, 0, 0);
    if (err == RS_OK && paddr) *paddr = rs_mr_get(0);
    return err;
}

int ps_page_table_map(rs_cptr_t table, rs_cptr_t vspace, uint64_t vaddr)
{
    return inv(table, RS_PAGE_TABLE_MAP, 1, &vaddr, 1, vspace, 0, 0);
}

int ps_page_table_unmap(rs_cptr_t table)
{
    return inv(table, RS_PAGE_TABLE_UNMAP, 0, NULL, 0, 0, 0, 0);
}

int ps_irq_control_get(rs_cptr_t irq_control, unsigned irq, rs_cptr_t root, rs_cptr_t dest,
                       unsigned depth)
{
    const rs_word_t a[] = {irq, dest, depth};
    return inv(irq_control, RS_IRQ_CONTROL_GET, 3, a, 1, root, 0, 0);
}

int ps_irq_handler_ack(rs_cptr_t handler)
{
    return inv(handler, RS_IRQ_HANDLER_ACK, 0, NULL, 0, 0, 0, 0);
}

int ps_irq_handler_set_notification(rs_cptr_t handler, rs_cptr_t ntfn)
{
    return inv(handler, RS_IRQ_HANDLER_SET_NOTIFICATION, 0, NULL, 1, ntfn, 0, 0);
}

int ps_irq_handler_clear(rs_cptr_t handler)
{
    return inv(handler, RS_IRQ_HANDLER_CLEAR, 0, NULL, 0, 0, 0, 0);
}

int ps_ioport_issue(rs_cptr_t control, uint16_t first, uint16_t last, rs_cptr_t root,
                    rs_cptr_t dest, unsigned depth)
{
    const rs_word_t a[] = {first, last, dest, depth};
    return inv(control, RS_IOPORT_CONTROL_ISSUE, 4, a, 1, root, 0, 0);
}

static rs_word_t port_label(rs_word_t base, unsigned width)
{
    return base + (width == 4 ? 2 : width == 2 ? 1 : 0);
}

int ps_ioport_in(rs_cptr_t port_cap, unsigned width, uint16_t port, uint32_t *value)
{
    rs_word_t a = port;
    int err = inv(port_cap, port_label(RS_IOPORT_IN8, width), 1, &a, 0, 0, 0, 0);
    if (err == RS_OK && value) *value = (uint32_t)rs_mr_get(0);
    return err;
}

int ps_ioport_out(rs_cptr_t port_cap, unsigned width, uint16_t port, uint32_t value)
{
    const rs_word_t a[] = {port, value};
    return inv(port_cap, port_label(RS_IOPORT_OUT8, width), 2, a, 0, 0, 0, 0);
}

/* ---------------------------------------------------------------- slot allocator */

void ps_slots_init(ps_slots_t *sa, rs_cptr_t start, rs_cptr_t end)
{
    memset(sa, 0, sizeof(*sa));
    if (start == 0) start = 1;
    if (end < start) end = start;
    if (end - start > PS_SLOTS_MAX) end = start + PS_SLOTS_MAX;
    sa->start = start;
    sa->end = end;
    sa->free_count = (uint32_t)(end - start);
}

static bool bit_get(const ps_slots_t *sa, uint64_t i) { return (sa->used[i / 64] >> (i % 64)) & 1; }
static void bit_set(ps_slots_t *sa, uint64_t i, bool v)
{
    if (v) sa->used[i / 64] |= 1ull << (i % 64);
    else sa->used[i / 64] &= ~(1ull << (i % 64));
}

rs_cptr_t ps_slot_alloc(ps_slots_t *sa) { return ps_slot_alloc_range(sa, 1); }

/* First-fit search for n free slots starting at the hint, wrapping once. */
rs_cptr_t ps_slot_alloc_range(ps_slots_t *sa, unsigned n)
{
    uint64_t len = sa->end - sa->start;
    if (n == 0 || n > sa->free_count) return 0;
    for (unsigned pass = 0; pass < 2; pass++) {
        uint64_t from = pass == 0 ? sa->hint : 0, to = pass == 0 ? len : sa->hint + n;
        if (to > len) to = len;
        uint64_t run = 0;
        for (uint64_t i = from; i < to; i++) {
            run = bit_get(sa, i) ? 0 : run + 1;
            if (run < n) continue;
            uint64_t first = i + 1 - n;
            for (uint64_t j = first; j <= i; j++) bit_set(sa, j, true);
            sa->free_count -= n;
            sa->hint = (uint32_t)(i + 1 < len ? i + 1 : 0);
            return sa->start + first;
        }
    }
    return 0;
}

void ps_slot_free_range(ps_slots_t *sa, rs_cptr_t first, unsigned n)
{
    for (rs_cptr_t s = first; s < first + n; s++) {
        if (s < sa->start || s >= sa->end || !bit_get(sa, s - sa->start)) continue;
        bit_set(sa, s - sa->start, false);
        sa->free_count++;
    }
}

void ps_slot_free(ps_slots_t *sa, rs_cptr_t slot) { ps_slot_free_range(sa, slot, 1); }

bool ps_slot_used(const ps_slots_t *sa, rs_cptr_t slot)
{
    return slot >= sa->start && slot < sa->end && bit_get(sa, slot - sa->start);
}

/* ---------------------------------------------------------------- untyped allocator */

uint64_t ps_object_size(unsigned type, unsigned bits) { return rs_object_size(type, bits); }

/* The kernel's placement rule (kernel/untyped.c): small objects align to their size, page-sized
 * ones to 4 KiB, large frames to 2 MiB, untyped and CNodes to their full size. */
static uint64_t object_align(unsigned type, uint64_t size)
{
    if (type == RS_OBJ_UNTYPED || type == RS_OBJ_CNODE) return size;
    if (size < 4096) return size;
    return type == RS_OBJ_LARGE_FRAME ? 1ull << 21 : 4096;
}

void ps_ut_init(ps_ut_t *ua, ps_untyped_t *storage, unsigned capacity)
{
    ua->ut = storage;
    ua->count = 0;
    ua->capacity = capacity;
}

int ps_ut_add(ps_ut_t *ua, rs_cptr_t cap, unsigned size_bits, uint64_t paddr, bool is_device)
{
    if (size_bits < RS_MIN_UNTYPED_BITS || size_bits > RS_MAX_UNTYPED_BITS)
        return RS_INVALID_ARGUMENT;
    if (ua->count >= ua->capacity) return RS_RANGE_ERROR;
    ua->ut[ua->count++] = (ps_untyped_t){.cap = cap,
                                         .paddr = paddr,
                                         .used = 0,
                                         .size_bits = (uint8_t)size_bits,
                                         .is_device = is_device};
    return RS_OK;
}

int ps_ut_add_bootinfo(ps_ut_t *ua, const rs_bootinfo_t *bi)
{
    for (rs_cptr_t c = bi->untyped.start; c < bi->untyped.end; c++) {
        const rs_untyped_desc_t *d = &bi->untyped_list[c - bi->untyped.start];
        int err = ps_ut_add(ua, c, d->size_bits, d->paddr, d->is_device);
        if (err) return err;
    }
    return RS_OK;
}

/* Where `count` objects would start in u, or ~0 if they do not fit. */
static uint64_t fit_start(const ps_untyped_t *u, uint64_t size, uint64_t align, unsigned count)
{
    uint64_t total = 1ull << u->size_bits;
    uint64_t start = (u->used + align - 1) & ~(align - 1);
    if (start > total || count > (total - start) / size) return ~0ull;
    return start;
}

int ps_ut_retype(ps_ut_t *ua, rs_cptr_t root, unsigned type, unsigned size_bits,
                 rs_cptr_t node_index, unsigned node_depth, rs_cptr_t offset, unsigned count,
                 unsigned *which)
{
    uint64_t size = ps_object_size(type, size_bits), align = object_align(type, size);
    if (size == 0 || count == 0) { // let the kernel say what is wrong, with its detail words
        return ua->count ? ps_untyped_retype(ua->ut[0].cap, root, type, size_bits, node_index,
                                             node_depth, offset, count)
                         : RS_NOT_ENOUGH_MEMORY;
    }
    for (;;) {
        int best = -1;
        for (unsigned i = 0; i < ua->count; i++) {
            const ps_untyped_t *u = &ua->ut[i];
            if (u->is_device || fit_start(u, size, align, count) == ~0ull) continue;
            if (best < 0 || u->size_bits < ua->ut[best].size_bits) best = (int)i;
        }
        if (best < 0) return RS_NOT_ENOUGH_MEMORY;
        ps_untyped_t *u = &ua->ut[best];
        uint64_t start = fit_start(u, size, align, count);
        int err =
            ps_untyped_retype(u->cap, root, type, size_bits, node_index, node_depth, offset, count);
        if (err == RS_NOT_ENOUGH_MEMORY) {
            // VSpaces out of ASIDs get the same error with MR0 0: no other untyped would help
            if (type == RS_OBJ_VSPACE && rs_mr_get(0) == 0) return err;
            // else the kernel knows better: take its watermark (MR0 = bytes left), try again
            uint64_t total = 1ull << u->size_bits, left = rs_mr_get(0);
            u->used = left < total && total - left > u->used ? total - left : total;
            continue;
        }
        if (err == RS_OK) {
            u->used = start + (uint64_t)count * size;
            if (which) *which = (unsigned)best;
        }
        return err;
    }
}

void ps_ut_reset(ps_ut_t *ua, rs_cptr_t cap)
{
    for (unsigned i = 0; i < ua->count; i++)
        if (ua->ut[i].cap == cap) ua->ut[i].used = 0;
}

/* ---------------------------------------------------------------- environment */

void ps_root_init(ps_root_t *r, const rs_bootinfo_t *bi)
{
    ps_slots_init(&r->slots, bi->empty.start, bi->empty.end);
    ps_ut_init(&r->ut, r->ut_storage, RS_BOOT_MAX_UNTYPED);
    ps_ut_add_bootinfo(&r->ut, bi);
    r->env = (ps_env_t){.cnode = RS_INIT_CNODE, .vspace = RS_INIT_VSPACE, .tcb = RS_INIT_TCB,
                        .slots = &r->slots, .ut = &r->ut, .scratch_vaddr = PS_SCRATCH_VADDR};
}

int ps_new_object(ps_env_t *env, unsigned type, unsigned size_bits, rs_cptr_t *out)
{
    *out = 0;
    rs_cptr_t slot = ps_slot_alloc(env->slots);
    if (!slot) return RS_NOT_ENOUGH_MEMORY;
    int err = ps_ut_retype(env->ut, env->cnode, type, size_bits, 0, 0, slot, 1, NULL);
    if (err) {
        ps_slot_free(env->slots, slot);
        return err;
    }
    *out = slot;
    return RS_OK;
}

int ps_new_untyped(ps_env_t *env, unsigned bits, ps_ut_t *ua, ps_untyped_t *storage,
                   rs_cptr_t *cap_out)
{
    int err = ps_new_object(env, RS_OBJ_UNTYPED, bits, cap_out);
    if (err) return err;
    ps_ut_init(ua, storage, 1);
    return ps_ut_add(ua, *cap_out, bits, 0, false);
}

/* The table type whose absence Frame_Map/PageTable_Map reports as `missing` address bits left
 * unresolved (MR1 of RS_FAILED_LOOKUP), and the alignment of the region one such table covers. */
static int table_for_level(rs_word_t missing, unsigned *type, uint64_t *align)
{
    switch (missing) {
    case 39: *type = RS_OBJ_PDPT; *align = 1ull << 39; return RS_OK;
    case 30: *type = RS_OBJ_PAGE_DIRECTORY; *align = 1ull << 30; return RS_OK;
    case 21: *type = RS_OBJ_PAGE_TABLE; *align = 1ull << 21; return RS_OK;
    default: return RS_FAILED_LOOKUP;
    }
}

int ps_map_frame(ps_env_t *env, rs_cptr_t vspace, rs_cptr_t frame, uint64_t vaddr, unsigned rights,
                 unsigned attr)
{
    // at most three tables can be missing (PDPT, PD, PT); one more round maps the frame
    for (unsigned round = 0; round < 4; round++) {
        int err = ps_frame_map(frame, vspace, vaddr, rights, attr);
        if (err != RS_FAILED_LOOKUP) return err;
        // RS_FAILED_LOOKUP also means "the frame cptr is bad": then MR1 names no table
        unsigned type;
        uint64_t align;
        rs_word_t missing = rs_mr_get(1);
        if (table_for_level(missing, &type, &align) != RS_OK) return err;
        rs_cptr_t table;
        int terr = ps_new_object(env, type, 0, &table);
        if (terr) return terr;
        terr = ps_page_table_map(table, vspace, vaddr & ~(align - 1));
        if (terr) {
            ps_cnode_delete(env->cnode, table, PS_DEPTH);
            ps_slot_free(env->slots, table);
            return terr == RS_DELETE_FIRST ? err : terr; // a table was there after all
        }
    }
    return RS_FAILED_LOOKUP;
}

int ps_map_new_frame(ps_env_t *env, rs_cptr_t vspace, uint64_t vaddr, unsigned rights,
                     rs_cptr_t *frame_out)
{
    rs_cptr_t f;
    int err = ps_new_object(env, RS_OBJ_FRAME, 0, &f);
    if (err) return err;
    err = ps_map_frame(env, vspace, f, vaddr, rights, RS_ATTR_DEFAULT);
    if (err) {
        ps_cnode_delete(env->cnode, f, PS_DEPTH);
        ps_slot_free(env->slots, f);
        f = 0;
    }
    if (frame_out) *frame_out = f;
    return err;
}

/* ---------------------------------------------------------------- ELF images */

#define PAGE 4096ul
#define USER_TOP RS_USER_TOP


static bool is_load(const struct elf64_phdr *ph) { return ph->type == PT_LOAD && ph->memsz; }
static uint64_t seg_first_page(const struct elf64_phdr *ph) { return ph->vaddr & ~(PAGE - 1); }
static uint64_t seg_end_page(const struct elf64_phdr *ph)
{
    return (ph->vaddr + ph->memsz + PAGE - 1) & ~(PAGE - 1);
}

/* Pages the image occupies; a page shared by two adjacent segments counts once. */
static uint64_t elf_page_count(const struct elf64_phdr *ph, unsigned n)
{
    uint64_t count = 0, next = 0; // segments ascend: pages below `next` are counted already
    for (unsigned i = 0; i < n; i++) {
        if (!is_load(&ph[i])) continue;
        uint64_t first = seg_first_page(&ph[i]), end = seg_end_page(&ph[i]);
        if (first < next) first = next;
        if (end > first) count += (end - first) / PAGE, next = end;
    }
    return count;
}

/* Fills the page at `va` of the child from every segment that covers it (a page can hold the
 * end of one segment and the start of the next), then maps it with the union of their rights. */
static int load_page(ps_process_t *p, ps_env_t *env, const uint8_t *img,
                     const struct elf64_phdr *ph, unsigned n, uint64_t va)
{
    rs_cptr_t f;
    int err = ps_new_object(&p->env, RS_OBJ_FRAME, 0, &f);
    if (err) return err;
    err = ps_map_frame(env, env->vspace, f, env->scratch_vaddr, RS_RIGHT_READ | RS_RIGHT_WRITE,
                       RS_ATTR_DEFAULT);
    if (err) return err;
    uint8_t *dst = (uint8_t *)env->scratch_vaddr;
    unsigned rights = RS_RIGHT_READ;
    for (unsigned i = 0; i < n; i++) {
        if (!is_load(&ph[i]) || va < seg_first_page(&ph[i]) || va >= seg_end_page(&ph[i])) continue;
        rights |= ((ph[i].flags & PF_W) ? RS_RIGHT_WRITE : 0) |
                  ((ph[i].flags & PF_X) ? RS_RIGHT_EXEC : 0);
        uint64_t file_lo = ph[i].vaddr, file_hi = ph[i].vaddr + ph[i].filesz;
        uint64_t lo = va > file_lo ? va : file_lo, hi = va + PAGE < file_hi ? va + PAGE : file_hi;
        if (lo < hi) memcpy(dst + (lo - va), img + ph[i].offset + (lo - file_lo), hi - lo);
    }
    err = ps_frame_unmap(f); // the frame is zero apart from what was copied: Retype zeroes it
    if (err) return err;
    return ps_map_frame(&p->env, p->vspace, f, va, rights, RS_ATTR_DEFAULT);
}

static int load_image(ps_process_t *p, ps_env_t *env, const uint8_t *img,
                      const struct elf64_phdr *ph, unsigned n)
{
    uint64_t next = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!is_load(&ph[i])) continue;
        uint64_t first = seg_first_page(&ph[i]), end = seg_end_page(&ph[i]);
        for (uint64_t va = first < next ? next : first; va < end; va += PAGE) {
            int err = load_page(p, env, img, ph, n, va);
            if (err) return err;
        }
        if (end > next) next = end;
    }
    return RS_OK;
}

/* ---------------------------------------------------------------- processes */

/* First code of every child: the runtime's IPC buffer pointer, then the entry function; a
 * returning entry suspends its thread (through the TCB cap the child holds in PS_SLOT_TCB). */
static _Noreturn void process_trampoline(uint64_t arg, rs_ipc_buffer_t *ipc, ps_entry_fn fn)
{
    __rs_ipc_buffer = ipc;
    fn(arg);
    ps_tcb_suspend(PS_SLOT_TCB);
    for (;;) __asm__ volatile("ud2"); // the cap is gone: fault, so that a handler hears of it
}

/* Reserves the slot block and the process untyped, sized for `pages` frames and the CNode. */
static int make_container(ps_process_t *p, ps_env_t *env, uint64_t pages, unsigned radix,
                          unsigned extra)
{
    const unsigned tables = 9, objects = 8; // PDPT/PD/PT for image and stack (+1 set spare)
    p->block_len = (unsigned)(pages + tables + objects + extra);
    p->block = ps_slot_alloc_range(env->slots, p->block_len);
    if (!p->block) return RS_NOT_ENOUGH_MEMORY;
    p->parent_slots = env->slots;
    ps_slots_init(&p->slots, p->block, p->block + p->block_len);
    uint64_t bytes = (1ull << (radix + RS_SLOT_BITS)) + (pages + tables + objects) * PAGE;
    unsigned bits = 12;
    while ((1ull << bits) < bytes) bits++;
    ps_env_t mine = *env; // memory from the creator's untyped, slot from the block
    mine.slots = &p->slots;
    int err = ps_new_object(&mine, RS_OBJ_UNTYPED, bits, &p->untyped);
    if (err) return err;
    ps_ut_init(&p->ut, &p->ut_entry, 1);
    ps_ut_add(&p->ut, p->untyped, bits, 0, false);
    p->env = *env;
    p->env.slots = &p->slots;
    p->env.ut = &p->ut;
    return RS_OK;
}

/* CNode (guarded so that depth 64 names a slot), VSpace and TCB; the child's own caps. */
static int make_objects(ps_process_t *p, unsigned radix)
{
    rs_cptr_t raw;
    int err = ps_new_object(&p->env, RS_OBJ_CNODE, radix, &raw);
    if (err) return err;
    if (!(p->cnode = ps_slot_alloc(&p->slots))) return RS_NOT_ENOUGH_MEMORY;
    rs_cptr_t me = p->env.cnode;
    err = ps_cnode_mint(me, p->cnode, PS_DEPTH, me, raw, PS_DEPTH, RS_RIGHTS_ALL,
                        ps_cnode_guard(64 - radix, 0));
    if (err) return err;
    p->cnode_radix = radix;
    if ((err = ps_new_object(&p->env, RS_OBJ_VSPACE, 0, &p->vspace)) ||
        (err = ps_new_object(&p->env, RS_OBJ_TCB, 0, &p->tcb)))
        return err;
    if ((err = ps_cnode_copy(p->cnode, PS_SLOT_TCB, PS_DEPTH, me, p->tcb, PS_DEPTH)) ||
        (err = ps_cnode_copy(p->cnode, PS_SLOT_CNODE, PS_DEPTH, me, p->cnode, PS_DEPTH)) ||
        (err = ps_cnode_copy(p->cnode, PS_SLOT_VSPACE, PS_DEPTH, me, p->vspace, PS_DEPTH)))
        return err;
    return RS_OK;
}

static int make_stack_and_ipc(ps_process_t *p, unsigned stack_pages)
{
    p->stack_top = PS_CHILD_STACK_TOP;
    p->ipc_vaddr = PS_CHILD_IPC_BUFFER;
    for (unsigned i = 1; i <= stack_pages; i++) {
        int err = ps_map_new_frame(&p->env, p->vspace, p->stack_top - i * PAGE,
                                   RS_RIGHT_READ | RS_RIGHT_WRITE, NULL);
        if (err) return err;
    }
    return ps_map_new_frame(&p->env, p->vspace, p->ipc_vaddr, RS_RIGHT_READ | RS_RIGHT_WRITE,
                            &p->ipc_frame);
}

static uint64_t elf_entry(const void *image) { return ((const struct elf64_ehdr *)image)->entry; }

/* Configure, priorities, fault handler, name, and the registers for the trampoline. */
static int setup_thread(ps_process_t *p, const ps_process_config_t *cfg)
{
    int err;
    if ((err = ps_tcb_configure(p->tcb, p->cnode, p->vspace, p->ipc_frame, p->ipc_vaddr)) ||
        (err = ps_tcb_set_mcp(p->tcb, p->env.tcb, cfg->mcp)) ||
        (err = ps_tcb_set_priority(p->tcb, p->env.tcb, cfg->priority)))
        return err;
    if (cfg->fault_ep && (err = ps_tcb_set_fault_handler(p->tcb, cfg->fault_ep))) return err;
    if (cfg->name && (err = ps_tcb_set_name(p->tcb, cfg->name))) return err;
    uint64_t regs[RS_REG_RDI + 1] = {0};
    // another program starts at its ELF entry (crt0: rdi = arg, rsi = IPC buffer); our own
    // image can start at any of our functions through the trampoline
    regs[RS_REG_RIP] = cfg->entry ? (uint64_t)(uintptr_t)process_trampoline : elf_entry(cfg->elf);
    regs[RS_REG_RSP] = p->stack_top - 8; // as if called: rsp + 8 is 16-byte aligned
    regs[RS_REG_RFLAGS] = 0x202;
    regs[RS_REG_RDI] = cfg->arg;
    regs[RS_REG_RSI] = p->ipc_vaddr;
    regs[RS_REG_RDX] = (uint64_t)(uintptr_t)cfg->entry;
    return ps_tcb_write_registers(p->tcb, false, RS_REG_RDI + 1, regs);
}

int ps_process_create(ps_process_t *p, ps_env_t *env, const ps_process_config_t *cfg)
{
    memset(p, 0, sizeof(*p));
    p->env = *env; // so that a failure cleans up in the right CSpace
    unsigned nph = 0;
    const struct elf64_phdr *ph = elf_check(cfg->elf, cfg->elf_size, USER_TOP, &nph);
    unsigned radix = cfg->cnode_radix ? cfg->cnode_radix : 8;
    unsigned stack_pages = cfg->stack_pages ? cfg->stack_pages : 4;
    if (!ph || radix > RS_MAX_CNODE_RADIX || stack_pages > 256) return RS_INVALID_ARGUMENT;
    uint64_t pages = elf_page_count(ph, nph) + stack_pages + 1;
    int err = make_container(p, env, pages, radix, cfg->extra_slots ? cfg->extra_slots : 16);
    if (!err) err = make_objects(p, radix);
    if (!err && cfg->console) // printing only: reading the console stays with the creator
        err = ps_cnode_mint(p->cnode, PS_SLOT_CONSOLE, PS_DEPTH, env->cnode, cfg->console, PS_DEPTH,
                            RS_RIGHT_WRITE, 0);
    if (!err) err = load_image(p, env, cfg->elf, ph, nph);
    if (!err) err = make_stack_and_ipc(p, stack_pages);
    if (!err) err = setup_thread(p, cfg);
    if (err) ps_process_destroy(p);
    return err;
}

int ps_process_give(ps_process_t *p, rs_cptr_t dest, rs_cptr_t src, unsigned rights,
                    rs_badge_t badge)
{
    rs_cptr_t me = p->env.cnode;
    // Copy keeps everything (a CNode's guard too: Mint would set the guard from `badge`)
    if (rights == RS_RIGHTS_ALL && badge == 0)
        return ps_cnode_copy(p->cnode, dest, PS_DEPTH, me, src, PS_DEPTH);
    return ps_cnode_mint(p->cnode, dest, PS_DEPTH, me, src, PS_DEPTH, rights, badge);
}

int ps_process_share(ps_process_t *p, rs_cptr_t frame, uint64_t vaddr, unsigned rights)
{
    rs_cptr_t copy = ps_slot_alloc(&p->slots);
    if (!copy) return RS_NOT_ENOUGH_MEMORY;
    int err = ps_cnode_copy(p->env.cnode, copy, PS_DEPTH, p->env.cnode, frame, PS_DEPTH);
    if (!err) err = ps_map_frame(&p->env, p->vspace, copy, vaddr, rights, RS_ATTR_DEFAULT);
    return err;
}

int ps_process_start(ps_process_t *p) { return ps_tcb_resume(p->tcb); }

int ps_process_destroy(ps_process_t *p)
{
    if (!p->block) return RS_OK;
    rs_cptr_t me = p->env.cnode;
    int first = RS_OK, err;
    if (p->untyped) first = ps_cnode_revoke(me, p->untyped, PS_DEPTH);
    // copies of the creator's caps (shared frames) and the untyped itself are left
    for (rs_cptr_t s = p->block; s < p->block + p->block_len; s++) {
        if (!ps_slot_used(&p->slots, s)) continue;
        if ((err = ps_cnode_delete(me, s, PS_DEPTH)) && !first) first = err;
    }
    ps_slot_free_range(p->parent_slots, p->block, p->block_len);
    memset(p, 0, sizeof(*p));
    return first;
}

/* ---------------------------------------------------------------- threads in the same space */

static _Noreturn void thread_trampoline(uint64_t arg, rs_ipc_buffer_t *ipc, ps_thread_fn fn,
                                        rs_cptr_t tcb)
{
    fn(arg, ipc);
    ps_syscall_buf(ipc, RS_SYS_CALL, tcb, rs_msginfo(RS_TCB_SUSPEND, 0, 0, 0));
    for (;;) __asm__ volatile("ud2");
}

int ps_thread_create(ps_thread_t *t, ps_env_t *env, ps_thread_fn fn, uint64_t arg,
                     uint64_t stack_top, unsigned stack_pages, uint64_t ipc_vaddr, uint8_t prio,
                     rs_cptr_t fault_ep)
{
    memset(t, 0, sizeof(*t));
    if (!fn || (stack_top | ipc_vaddr) & (PAGE - 1)) return RS_INVALID_ARGUMENT;
    int err;
    for (unsigned i = 1; i <= stack_pages; i++)
        if ((err = ps_map_new_frame(env, env->vspace, stack_top - i * PAGE,
                                    RS_RIGHT_READ | RS_RIGHT_WRITE, NULL)))
            return err;
    if ((err = ps_map_new_frame(env, env->vspace, ipc_vaddr, RS_RIGHT_READ | RS_RIGHT_WRITE,
                                &t->ipc_frame)) ||
        (err = ps_new_object(env, RS_OBJ_TCB, 0, &t->tcb)) ||
        (err = ps_tcb_configure(t->tcb, env->cnode, env->vspace, t->ipc_frame, ipc_vaddr)) ||
        (err = ps_tcb_set_priority(t->tcb, env->tcb, prio)))
        return err;
    if (fault_ep && (err = ps_tcb_set_fault_handler(t->tcb, fault_ep))) return err;
    t->stack_top = stack_top;
    t->ipc_vaddr = ipc_vaddr;
    uint64_t regs[RS_REG_RDI + 1] = {0};
    regs[RS_REG_RIP] = (uint64_t)(uintptr_t)thread_trampoline;
    regs[RS_REG_RSP] = stack_top - 8;
    regs[RS_REG_RFLAGS] = 0x202;
    regs[RS_REG_RDI] = arg;
    regs[RS_REG_RSI] = ipc_vaddr;
    regs[RS_REG_RDX] = (uint64_t)(uintptr_t)fn;
    regs[RS_REG_RCX] = t->tcb;
    return ps_tcb_write_registers(t->tcb, false, RS_REG_RDI + 1, regs);
}
