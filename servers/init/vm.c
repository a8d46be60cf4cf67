// SPDX-License-Identifier: MIT
// Virtual machines for VMM servers (manifest guest=): init makes a guest's objects once — guest
// space, RAM, VCPU, the vCPU's thread — and hands them to every instance of the VMM, so that a
// VMM crash loses neither the guest's memory nor its CPU state (docs/virtualization.md); and a
// Timer bound to the VMM's ping notification, for its guest's next deadline.
#include "init.h"
#include <resurgo/vcpu.h>
#include "vcpu.h"

#define VM_LOAD_GPA    0x100000ul   /* guests/README.md: image and entry point */
#define VM_START_MAGIC 0x52534730ul /* "RSG0" in EAX at the start */
#define VM_FRAME       (2ul << 20)  /* guest RAM is made of 2 MiB frames */
#define VM_MAX_FRAMES  (MANIFEST_MAX_RAM_MIB / 2)
#define VM_WINDOW      0x0000410000000000ul /* where init maps a RAM frame to load the image */

struct vm {
    rs_cptr_t guest_space, vcpu, tcb, exit_cap, tick_signal, timer;
    rs_cptr_t ram[VM_MAX_FRAMES];
    unsigned frames;
    bool resumed;
};

static struct vm vms[MANIFEST_SERVERS];

/* Guest-physical 0 .. 1 GiB needs one PDPT and one PD; RAM frames map at the PD level. */
static int make_guest_space(struct vm *vm)
{
    rs_cptr_t pdpt, pd;
    ps_env_t *env = &init.root.env;
    int err;
    if ((err = ps_new_object(env, RS_OBJ_GUEST_SPACE, 0, &vm->guest_space)) ||
        (err = ps_new_object(env, RS_OBJ_PDPT, 0, &pdpt)) ||
        (err = ps_new_object(env, RS_OBJ_PAGE_DIRECTORY, 0, &pd)) ||
        (err = ps_page_table_map(pdpt, vm->guest_space, 0)) ||
        (err = ps_page_table_map(pd, vm->guest_space, 0)))
        return err;
    for (unsigned i = 0; i < vm->frames; i++) {
        if ((err = ps_new_object(env, RS_OBJ_LARGE_FRAME, 0, &vm->ram[i])) ||
            (err = ps_guest_space_map(vm->guest_space, vm->ram[i], i * VM_FRAME,
                                      RS_RIGHT_READ | RS_RIGHT_WRITE | RS_RIGHT_EXEC)))
            return err;
    }
    return RS_OK;
}

/* Copies the flat image to VM_LOAD_GPA through init's window, one RAM frame at a time. */
static int load_image(struct vm *vm, const rs_boot_module_t *image)
{
    for (uint64_t done = 0; done < image->size;) {
        uint64_t gpa = VM_LOAD_GPA + done, off = gpa % VM_FRAME, n = VM_FRAME - off;
        if (n > image->size - done) n = image->size - done;
        rs_cptr_t frame = vm->ram[gpa / VM_FRAME];
        // the frame cap is mapped in the guest space: map a copy, and delete it afterwards
        rs_cptr_t copy = ps_slot_alloc(init.root.env.slots);
        int err = ps_cnode_copy(RS_INIT_CNODE, copy, 64, RS_INIT_CNODE, frame, 64);
        if (!err)
            err = ps_map_frame(&init.root.env, RS_INIT_VSPACE, copy, VM_WINDOW,
                               RS_RIGHT_READ | RS_RIGHT_WRITE, RS_ATTR_DEFAULT);
        if (!err) memcpy((uint8_t *)VM_WINDOW + off, (const uint8_t *)image->vaddr + done, n);
        ps_cnode_delete(RS_INIT_CNODE, copy, 64); // unmaps it
        ps_slot_free(init.root.env.slots, copy);
        if (err) return err;
        done += n;
    }
    return RS_OK;
}

/* The start state of guests/README.md: 32-bit protected mode, flat segments, no paging, IF = 0. */
static int write_start_state(const struct vm *vm, uint64_t ram_size)
{
    const struct rs_segment code = {0x08, 0, 0xFFFFFFFF, 0xC9B},
                            data = {0x10, 0, 0xFFFFFFFF, 0xC93};
    rs_vcpu_state_t st = {
        .rax = VM_START_MAGIC,
        .rbx = ram_size,
        .rsp = VM_LOAD_GPA,
        .rip = VM_LOAD_GPA,
        .rflags = 0x2,
        .cr0 = 0x11, // PE, ET
        .cs = code,
        .ds = data,
        .es = data,
        .fs = data,
        .gs = data,
        .ss = data,
        .tr = {0, 0, 0xFFFF, 0x8B},
        .ldtr = {0, 0, 0xFFFF, 0x82},
    };
    return ps_vcpu_write_state(vm->vcpu, &st);
}

/* VCPU, its thread (just below the VMM, which must preempt a spinning guest), bound to the
 * guest space and to the server's endpoint through a cap badged IPC_BADGE_VCPU_EXIT. */
static int make_vcpu(struct server *s, struct vm *vm)
{
    ps_env_t *env = &init.root.env;
    char name[16];
    rt_snprintf(name, sizeof(name), "%s-vcpu", s->m->name);
    vm->exit_cap = ps_slot_alloc(env->slots);
    int err;
    if ((err = ps_new_object(env, RS_OBJ_VCPU, 0, &vm->vcpu)) ||
        (err = ps_new_object(env, RS_OBJ_TCB, 0, &vm->tcb)) ||
        (err = ps_tcb_set_priority(vm->tcb, RS_INIT_TCB, s->m->prio ? s->m->prio - 1 : 0)) ||
        (err = ps_tcb_set_name(vm->tcb, name)) ||
        (err = ps_cnode_mint(RS_INIT_CNODE, vm->exit_cap, 64, RS_INIT_CNODE, s->ep, 64,
                             RS_RIGHT_WRITE, IPC_BADGE_VCPU_EXIT)))
        return err;
    return ps_vcpu_bind(vm->vcpu, vm->tcb, vm->guest_space, vm->exit_cap);
}

int vm_setup(struct server *s, unsigned index)
{
    struct vm *vm = &vms[index];
    const rs_boot_module_t *image = init_find_module(s->m->guest);
    uint64_t ram = (uint64_t)s->m->ram_mib << 20;
    if (!image || image->size > ram - VM_LOAD_GPA) {
        init_log("%s: guest image '%s' %s\n", s->m->name, s->m->guest,
                 image ? "larger than its RAM" : "not found");
        return image ? RS_RANGE_ERROR : RS_NOT_FOUND;
    }
    vm->frames = s->m->ram_mib / 2;
    vm->tick_signal = ps_slot_alloc(init.root.env.slots);
    int err;
    if ((err = make_guest_space(vm)) || (err = load_image(vm, image)) || (err = make_vcpu(s, vm)) ||
        (err = write_start_state(vm, ram)) ||
        (err = ps_cnode_mint(RS_INIT_CNODE, vm->tick_signal, 64, RS_INIT_CNODE, s->ping, 64,
                             RS_RIGHT_WRITE, IPC_BADGE_TICK)) ||
        (err = ps_new_object(&init.root.env, RS_OBJ_TIMER, 0, &vm->timer)) ||
        (err = ps_timer_bind(vm->timer, s->ping, IPC_BADGE_TIMER)))
        return err;
    s->control->guest_ram_size = ram;
    s->vm = vm;
    return RS_OK;
}

unsigned vm_extra_slots(const struct server *s) { return s->vm ? s->vm->frames : 0; }

int vm_give(struct server *s)
{
    struct vm *vm = s->vm;
    int err = ps_process_give(s->proc, IPC_SLOT_VCPU, vm->vcpu, RS_RIGHTS_ALL, 0);
    // bound by init once: the VMM may arm and cancel it but not move it to another notification
    if (!err) err = ps_process_give(s->proc, IPC_SLOT_TIMER, vm->timer, RS_RIGHTS_ALL, 0);
    for (unsigned i = 0; !err && i < vm->frames; i++)
        err = ps_process_share(s->proc, vm->ram[i], IPC_GUEST_RAM_VADDR + i * VM_FRAME,
                               RS_RIGHT_READ | RS_RIGHT_WRITE);
    return err;
}

void vm_started(struct server *s)
{
    struct vm *vm = s->vm;
    if (!vm || vm->resumed) return;
    int err = ps_tcb_resume(vm->tcb);
    vm->resumed = err == RS_OK;
    init_log("%s: guest '%s' (%u MiB) %s\n", s->m->name, s->m->guest, s->m->ram_mib,
             err ? rs_error_name(err) : "started");
}

void vm_tick(void)
{
    for (unsigned i = 0; i < init.nservers; i++)
        if (init.servers[i].vm) rs_signal(init.servers[i].vm->tick_signal);
}
