// SPDX-License-Identifier: MIT
// Virtual machines for VMM servers (manifest guest= or kernel=): init makes a guest's objects
// once — guest space, RAM, VCPU, the vCPU's thread — and hands them to every instance of the VMM,
// so that a VMM crash loses neither the guest's memory nor its CPU state
// (docs/virtualization.md). The guest is a flat image (guests/README.md) or a Linux bzImage with
// its initrd and command line (the boot protocol: linux_boot.c). A Timer bound to the VMM's ping notification wakes
// it at its guest's next deadline.
#include "init.h"
#include <resurgo/vcpu.h>
#include "vcpu.h"
#include "linux_boot.h"
#include "proto/vmm.h"

#define VM_LOAD_GPA    0x100000ul   /* guests/README.md: image and entry point */
#define VM_START_MAGIC 0x52534730ul /* "RSG0" in EAX at the start */
#define VM_FRAME       (2ul << 20)  /* guest RAM is made of 2 MiB frames */
#define VM_MAX_FRAMES  (MANIFEST_MAX_RAM_MIB / 2)
#define VM_WINDOW      0x0000410000000000ul /* where init maps a RAM frame to load the image */
#define VM_DISK_FRAMES (MANIFEST_MAX_DISK_MIB / 2)

struct vm {
    rs_cptr_t guest_space, vcpu, tcb, exit_cap, tick_signal, timer;
    rs_cptr_t ram[VM_MAX_FRAMES];
    unsigned frames;
    rs_cptr_t disk[VM_DISK_FRAMES]; /* the disk image (manifest disk=), kept for the VM's life */
    unsigned disk_frames;
    const rs_boot_module_t *disk_image;
    bool resumed;
    // what vm_check found and planned: a flat image, or a kernel (and initrd) and its layout
    const rs_boot_module_t *image, *kernel, *initrd;
    struct linux_image linux_image;
    struct linux_layout linux_layout;
    char cmdline[MANIFEST_CMDLINE + 32]; /* the manifest's, and the TSC's rate (linux_cmdline) */
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

/* Copies n bytes to byte gpa of the 2 MiB frames `frames` through init's window, one frame at
 * a time (the caller checked that gpa .. gpa + n lies in them). */
static int frames_write(const rs_cptr_t *frames, uint64_t gpa, const void *src, uint64_t n)
{
    for (uint64_t done = 0; done < n;) {
        uint64_t at = gpa + done, off = at % VM_FRAME, len = VM_FRAME - off;
        if (len > n - done) len = n - done;
        rs_cptr_t frame = frames[at / VM_FRAME];
        // the frame cap is mapped in the guest space: map a copy, and delete it afterwards
        rs_cptr_t copy = ps_slot_alloc(init.root.env.slots);
        int err = ps_cnode_copy(RS_INIT_CNODE, copy, 64, RS_INIT_CNODE, frame, 64);
        if (!err)
            err = ps_map_frame(&init.root.env, RS_INIT_VSPACE, copy, VM_WINDOW,
                               RS_RIGHT_READ | RS_RIGHT_WRITE, RS_ATTR_DEFAULT);
        if (!err) memcpy((uint8_t *)VM_WINDOW + off, (const uint8_t *)src + done, len);
        ps_cnode_delete(RS_INIT_CNODE, copy, 64); // unmaps it
        ps_slot_free(init.root.env.slots, copy);
        if (err) return err;
        done += len;
    }
    return RS_OK;
}

/* Copies n bytes to guest-physical gpa (the caller checked that gpa .. gpa + n is RAM). */
static int guest_write(struct vm *vm, uint64_t gpa, const void *src, uint64_t n)
{
    return frames_write(vm->ram, gpa, src, n);
}

/* The disk image (manifest disk=) in frames of its own, zero beyond the module's end (a new
 * large frame is zeroed by Retype). */
static int make_disk(struct vm *vm)
{
    if (!vm->disk_image) return RS_OK;
    vm->disk_frames = (unsigned)((vm->disk_image->size + VM_FRAME - 1) / VM_FRAME);
    int err = RS_OK;
    for (unsigned i = 0; !err && i < vm->disk_frames; i++)
        err = ps_new_object(&init.root.env, RS_OBJ_LARGE_FRAME, 0, &vm->disk[i]);
    return err ? err
               : frames_write(vm->disk, 0, (const void *)vm->disk_image->vaddr,
                              vm->disk_image->size);
}

/* The Linux boot protocol's pieces where linux_boot_plan put them: the protected-mode kernel, the
 * zero page, the GDT, the command line and the initrd. */
static int load_linux(struct vm *vm, const struct manifest_server *m)
{
    static uint8_t zero_page[LINUX_ZERO_PAGE]; // off init's stack
    uint64_t gdt[LINUX_GDT_ENTRIES];
    const struct linux_layout *l = &vm->linux_layout;
    const uint8_t *kernel = (const uint8_t *)vm->kernel->vaddr;
    const struct linux_image *img = &vm->linux_image;
    linux_boot_zero_page(kernel, img, l, zero_page);
    int err = RS_OK;
    if (img->elf) {
        // a vmlinux: its segments (the rest of each, memsz - filesz, is zero: new RAM frames are
        // zeroed by Retype), the 64-bit GDT and the page tables of the 64-bit entry
        static uint64_t tables[LINUX_PT_PAGES][512]; // off init's stack
        for (unsigned i = 0; !err && i < img->segments; i++)
            err = guest_write(vm, img->segment[i].paddr, kernel + img->segment[i].offset,
                              img->segment[i].filesz);
        linux_boot_page_tables(l, tables);
        linux_boot_gdt64(gdt);
        if (!err) err = guest_write(vm, LINUX_PT_GPA, tables, sizeof(tables));
    } else {
        linux_boot_gdt(gdt);
        err = guest_write(vm, l->kernel_gpa, kernel + img->setup_size, l->kernel_size);
    }
    if (err || (err = guest_write(vm, l->zero_page_gpa, zero_page, sizeof(zero_page))) ||
        (err = guest_write(vm, l->gdt_gpa, gdt, sizeof(gdt))) ||
        (err = guest_write(vm, l->cmdline_gpa, vm->cmdline, l->cmdline_len + 1)))
        return err;
    return l->initrd_size
               ? guest_write(vm, l->initrd_gpa, (const void *)vm->initrd->vaddr, l->initrd_size)
               : RS_OK;
}

/* The guest vm_check chose: a flat image at VM_LOAD_GPA, or a kernel by the boot protocol. */
static int load_guest(struct vm *vm, const struct manifest_server *m)
{
    if (vm->kernel) return load_linux(vm, m);
    return guest_write(vm, VM_LOAD_GPA, (const void *)vm->image->vaddr, vm->image->size);
}

/* The start state of guests/README.md: 32-bit protected mode, flat segments, no paging, IF = 0;
 * or the Linux boot protocol's. */
static int write_start_state(const struct vm *vm, uint64_t ram_size)
{
    rs_vcpu_state_t st;
    if (vm->kernel) {
        if (vm->linux_image.elf) linux_boot_start_state64(&vm->linux_image, &vm->linux_layout, &st);
        else linux_boot_start_state(&vm->linux_layout, &st);
    } else {
        boot_flat32_state(&st, 0x08, 0x10);
        st.rax = VM_START_MAGIC;
        st.rbx = ram_size;
        st.rsp = VM_LOAD_GPA;
        st.rip = VM_LOAD_GPA;
    }
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

/* A flat image must fit between VM_LOAD_GPA and the end of RAM. */
static int check_flat(struct vm *vm, const struct manifest_server *m, uint64_t ram)
{
    vm->image = init_find_module(m->guest);
    if (!vm->image || vm->image->size > ram - VM_LOAD_GPA) {
        init_log("vm %s: guest image '%s' %s\n", m->name, m->guest,
                 vm->image ? "larger than its RAM" : "not found");
        return vm->image ? RS_RANGE_ERROR : RS_NOT_FOUND;
    }
    return RS_OK;
}

/* The guest's command line: the manifest's, and what the VMM knows of the TSC unless the
 * manifest says it: its rate (tsc_early_khz=) and that it is reliable (tsc=reliable). The
 * guest's TSC is the host's (invariant, never stopped by a VMM restart), but a PC has no
 * register that says how fast it runs: Linux measures it against the PIT, polling port 0x61
 * thousands of times within 50 ms, which exits through this VMM cannot do under emulation, and
 * then checks it against jiffies, which run slow whenever a timer interrupt comes late. Either
 * check failing leaves Linux on jiffies as its clock, losing time with every late tick.
 * Returns its length. */
static size_t linux_cmdline(struct vm *vm, const struct manifest_server *m)
{
    static const char key[] = "tsc_early_khz=";
    bool given = false;
    for (const char *p = m->cmdline; *p && !given; p++) given = !strncmp(p, key, sizeof(key) - 1);
    uint64_t khz = init.bi->tsc_per_ms;
    if (given || !khz) rt_snprintf(vm->cmdline, sizeof(vm->cmdline), "%s", m->cmdline);
    else
        rt_snprintf(vm->cmdline, sizeof(vm->cmdline), "%s%stsc_early_khz=%lu tsc=reliable",
                    m->cmdline, m->cmdline[0] ? " " : "", khz);
    return strlen(vm->cmdline);
}

/* A kernel must be a bzImage (or the vmlinux ELF of one) that, with its initrd and command line,
 * fits in RAM. */
static int check_linux(struct vm *vm, const struct manifest_server *m, uint64_t ram)
{
    char why[160];
    vm->kernel = init_find_module(m->kernel);
    vm->initrd = m->initrd[0] ? init_find_module(m->initrd) : NULL;
    if (!vm->kernel || (m->initrd[0] && !vm->initrd)) {
        bool k = !vm->kernel;
        init_log("vm %s: %s '%s' not found\n", m->name, k ? "kernel" : "initrd",
                 k ? m->kernel : m->initrd);
        return RS_NOT_FOUND;
    }
    enum linux_boot_error e = linux_boot_parse((const uint8_t *)vm->kernel->vaddr, vm->kernel->size,
                                               &vm->linux_image, why, sizeof(why));
    if (e) {
        init_log("vm %s: bad kernel '%s': %s\n", m->name, m->kernel, why);
        return RS_INVALID_ARGUMENT;
    }
    e = linux_boot_plan(&vm->linux_image, ram, vm->initrd ? vm->initrd->size : 0,
                        linux_cmdline(vm, m), &vm->linux_layout, why, sizeof(why));
    if (e) {
        bool rd = e == LINUX_BOOT_INITRD_TOO_BIG;
        init_log("vm %s: %s '%s' in %u MiB: %s\n", m->name, rd ? "initrd" : "kernel",
                 rd ? m->initrd : m->kernel, m->ram_mib, why);
        return e == LINUX_BOOT_CMDLINE_TOO_LONG ? RS_INVALID_ARGUMENT : RS_RANGE_ERROR;
    }
    return RS_OK;
}

/* A disk image must be a module of at most MANIFEST_MAX_DISK_MIB. */
static int check_disk(struct vm *vm, const struct manifest_server *m)
{
    if (!m->disk[0]) return RS_OK;
    vm->disk_image = init_find_module(m->disk);
    if (!vm->disk_image || vm->disk_image->size > (uint64_t)MANIFEST_MAX_DISK_MIB << 20) {
        init_log("vm %s: disk '%s' %s\n", m->name, m->disk,
                 vm->disk_image ? "larger than the largest disk" : "not found");
        return vm->disk_image ? RS_RANGE_ERROR : RS_NOT_FOUND;
    }
    return RS_OK;
}

int vm_check(struct server *s, unsigned index)
{
    struct vm *vm = &vms[index];
    memset(vm, 0, sizeof(*vm)); // a failed check leaves no stale pointers
    uint64_t ram = (uint64_t)s->m->ram_mib << 20;
    int err = s->m->guest[0] ? check_flat(vm, s->m, ram) : check_linux(vm, s->m, ram);
    return err ? err : check_disk(vm, s->m);
}

int vm_setup(struct server *s, unsigned index)
{
    struct vm *vm = &vms[index];
    uint64_t ram = (uint64_t)s->m->ram_mib << 20;
    vm->frames = s->m->ram_mib / 2;
    vm->tick_signal = ps_slot_alloc(init.root.env.slots);
    int err;
    if ((err = make_guest_space(vm)) || (err = load_guest(vm, s->m)) || (err = make_disk(vm)) ||
        (err = make_vcpu(s, vm)) || (err = write_start_state(vm, ram)) ||
        (err = ps_cnode_mint(RS_INIT_CNODE, vm->tick_signal, 64, RS_INIT_CNODE, s->ping, 64,
                             RS_RIGHT_WRITE, IPC_BADGE_TICK)) ||
        (err = ps_new_object(&init.root.env, RS_OBJ_TIMER, 0, &vm->timer)) ||
        (err = ps_timer_bind(vm->timer, s->ping, IPC_BADGE_TIMER)))
        return err;
    s->control->guest_ram_size = ram;
    s->control->guest_disk_size = vm->disk_image ? vm->disk_image->size : 0;
    s->control->guest_platform = vm->kernel ? IPC_GUEST_PC : IPC_GUEST_FLAT;
    s->vm = vm;
    return RS_OK;
}

unsigned vm_extra_slots(const struct server *s)
{
    return s->vm ? s->vm->frames + s->vm->disk_frames : 0;
}

int vm_give(struct server *s)
{
    struct vm *vm = s->vm;
    int err = ps_process_give(s->proc, IPC_SLOT_VCPU, vm->vcpu, RS_RIGHTS_ALL, 0);
    // bound by init once: the VMM may arm and cancel it but not move it to another notification
    if (!err) err = ps_process_give(s->proc, IPC_SLOT_TIMER, vm->timer, RS_RIGHTS_ALL, 0);
    for (unsigned i = 0; !err && i < vm->frames; i++)
        err = ps_process_share(s->proc, vm->ram[i], IPC_GUEST_RAM_VADDR + i * VM_FRAME,
                               RS_RIGHT_READ | RS_RIGHT_WRITE);
    for (unsigned i = 0; !err && i < vm->disk_frames; i++)
        err = ps_process_share(s->proc, vm->disk[i], IPC_GUEST_DISK_VADDR + i * VM_FRAME,
                               RS_RIGHT_READ | RS_RIGHT_WRITE);
    return err;
}

void vm_started(struct server *s)
{
    struct vm *vm = s->vm;
    if (!vm || vm->resumed) return;
    int err = ps_tcb_resume(vm->tcb);
    vm->resumed = err == RS_OK;
    init_log("%s: %s '%s' (%u MiB) %s\n", s->m->name, vm->kernel ? "kernel" : "guest",
             vm->kernel ? s->m->kernel : s->m->guest, s->m->ram_mib,
             err ? rs_error_name(err) : "started");
}

void vm_tick(void)
{
    for (unsigned i = 0; i < init.nservers; i++)
        if (init.servers[i].vm) rs_signal(init.servers[i].vm->tick_signal);
}

/* Prints what each VMM published in its output ring (proto/vmm.h) since the last tick. */
void vm_print_output(void)
{
    for (unsigned i = 0; i < init.nservers; i++)
        if (init.servers[i].vm) vm_print_server(&init.servers[i]);
}

void vm_print_server(struct server *s)
{
    struct vmm_output_ring *r =
        (struct vmm_output_ring *)((uint8_t *)s->control + VMM_OUTPUT_OFFSET);
    uint64_t head = r->head, tail = r->tail;
    if (tail >= head) return; // nothing new
    // the VMM's words are its own to corrupt: never read more than the ring holds
    if (head - tail > VMM_OUTPUT_RING) tail = head - VMM_OUTPUT_RING;
    __asm__ volatile("" ::: "memory"); // the bytes below head are in (x86 keeps stores in order)
    char buf[VMM_OUTPUT_RING];
    unsigned n = 0;
    for (uint64_t pos = tail; pos < head; pos++) buf[n++] = (char)r->buf[pos % VMM_OUTPUT_RING];
    rs_console_write(rt_console, buf, n);
    r->tail = head;
}
