/* SPDX-License-Identifier: MIT */
/* The capability derivation tree: insertion, moving, and the one deletion routine that every
 * Delete, Revoke and object destruction funnels through. Pure pointer logic: host-testable. */
#pragma once
#include "cap.h"

/* Inserts `child` (empty slot, cap already written) as the first child of `parent` (NULL for a
 * root), in constant time. */
void cdt_insert(struct slot *parent, struct slot *child);
/* Moves the cap and its tree position from `src` to empty `dst`; `src` becomes empty. */
void cdt_move(struct slot *src, struct slot *dst);
/* Unlinks `s` from the tree; its children take its place under its parent. The cap stays.
 * A root's children become parentless but stay linked as siblings in its place (orphan roots), so
 * copies whose original and untyped are gone still see each other (see cdt_is_final). */
void cdt_unlink(struct slot *s);
/* True if no other cap in the tree names the same object (parent, children and the adjacent
 * siblings checked: once the top cap of an object's subtree is deleted, its copies are siblings). */
bool cdt_is_final(const struct slot *s);
/* True if `s` has derived caps. */
static inline bool cdt_has_children(const struct slot *s) { return s->child != 0; }

/* Hook the tree calls when it drops the last cap to an object: releases what the object holds
 * and returns the slot array it contains, if any (CNode, TCB), so that its caps are deleted
 * next. Provided by the object layer; a test supplies its own. */
struct slot_array {
    struct slot *slots;
    uint64_t count;
};
struct slot_array object_finalise(struct cap *c);
/* Hooks for objects that threads wait on (endpoints, notifications): whether any thread waits on
 * the object of `c`, and waking the first one as object_finalise would (false if none waited).
 * A deletion wakes a long queue with these, one thread per step, before object_finalise. */
bool object_has_waiters(const struct cap *c);
bool object_cancel_one(const struct cap *c);
/* Hook called for every cap deleted (final or not): frames and tables unmap their own mapping. */
void object_cap_deleted(struct cap *c);

/* Preemption point, provided by the object layer (a test supplies its own): called with interrupts
 * off after each bounded piece of long work with its `cost` in work units; true means stop now
 * (an interrupt is pending), leaving the work in a state that a repeat of the operation carries
 * on from. Never true before PREEMPT_WORK_UNITS units since the last time it said stop. */
bool preempt_point(unsigned cost);
#define PREEMPT_WORK_UNITS  64 /* between polls for a pending interrupt */
#define PREEMPT_DELETE_COST 8  /* a deletion, in units (a slot looked at is 1) */

/* Deletes the cap in `s` and, when it was the last cap to its object, destroys the object and
 * the caps it contains, iteratively (no recursion on the kernel stack), to the end. A zombie in
 * `s` (left by a preempted deletion) is carried on to the end. An empty `s` is left alone. */
void cdt_delete(struct slot *s);
/* The same, stopping at a preemption point: returns false if it stopped, with `s` (and the
 * containers being emptied) left as zombies; calling it again on `s` carries on. */
bool cdt_delete_preemptible(struct slot *s);
/* True for a zombie: the last cap to a container being destroyed by a deletion that was
 * preempted. Only deletion may touch it (no copy, move, mutate, revoke or transfer). */
bool cap_is_zombie(const struct cap *c);
/* Deletes every cap derived from `s`; `s` itself stays, unless it lives in an object destroyed on
 * the way (an untyped cap kept in a CNode retyped from it): then it ends empty. Stops at a
 * preemption point (returns false; calling it again on `s` carries on) while `keep` (NULL: `s`)
 * holds a cap; once that is destroyed, it runs to the end. */
bool cdt_revoke(struct slot *s, const struct slot *keep);
