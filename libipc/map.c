// SPDX-License-Identifier: MIT
// Mapping with page tables made on demand: Frame_Map names the table that is missing by the
// address bits left unresolved (RS_FAILED_LOOKUP, MR1), so each round makes it and tries again.
#include "map.h"
#include "invoke_stubs.h"

/* The table type whose absence Frame_Map/PageTable_Map reports as `missing` address bits left
 * unresolved (MR1 of RS_FAILED_LOOKUP), and the alignment of the region one such table covers. */
static int table_for_level(rs_word_t missing, unsigned *type, uint64_t *align)
{
    switch (missing) {
    case 39:
        *type = RS_OBJ_PDPT;
        *align = 1ull << 39;
        return RS_OK;
    case 30:
        *type = RS_OBJ_PAGE_DIRECTORY;
        *align = 1ull << 30;
        return RS_OK;
    case 21:
        *type = RS_OBJ_PAGE_TABLE;
        *align = 1ull << 21;
        return RS_OK;
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

int ps_map_prepare(ps_env_t *env, rs_cptr_t vspace, uint64_t vaddr)
{
    rs_cptr_t f;
    int err = ps_map_new_frame(env, vspace, vaddr, RS_RIGHT_READ, &f);
    if (err) return err;
    err = ps_frame_unmap(f);
    ps_cnode_delete(env->cnode, f, PS_DEPTH);
    ps_slot_free(env->slots, f);
    return err;
}
