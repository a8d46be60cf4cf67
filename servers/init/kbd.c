// SPDX-License-Identifier: MIT
// The keyboard driver's device caps: a server whose image is "kbd" gets the
// i8042's ports and IRQ 1 (proto/kbd.h). The IRQ handler is made once, at setup, and signals the
// server's ping notification, which outlives every instance; each instance gets copies. The
// shell reads what the driver typed from the ring in the driver's control page.
#include "init.h"
#include "proto/kbd.h"

static struct server *kbd;  /* the keyboard driver, NULL if the manifest has none */
static rs_cptr_t kbd_irq;   /* IRQ 1's handler */
static rs_cptr_t kbd_ports; /* the i8042's ports, 0x60..0x64 */

static bool is_kbd(const struct server *s) { return !strcmp(s->m->image, "kbd"); }

int kbd_setup(struct server *s)
{
    if (!is_kbd(s)) return RS_OK;
    if (kbd) return RS_DELETE_FIRST; // one driver per controller: IRQ 1 has one handler
    ps_env_t *env = &init.root.env;
    rs_cptr_t badged = ps_slot_alloc(env->slots);
    kbd_irq = ps_slot_alloc(env->slots);
    kbd_ports = ps_slot_alloc(env->slots);
    int err;
    if ((err = ps_cnode_mint(RS_INIT_CNODE, badged, 64, RS_INIT_CNODE, s->ping, 64, RS_RIGHT_WRITE,
                             KBD_BADGE_IRQ)) ||
        (err = ps_irq_control_get(RS_INIT_IRQ_CONTROL, KBD_IRQ, RS_INIT_CNODE, kbd_irq, 64)) ||
        (err = ps_irq_handler_set_notification(kbd_irq, badged)) ||
        (err = ps_ioport_issue(RS_INIT_IOPORT_PLATFORM, KBD_PORT_FIRST, KBD_PORT_LAST,
                               RS_INIT_CNODE, kbd_ports, 64)))
        return err;
    kbd = s;
    return RS_OK;
}

int kbd_give(struct server *s, ps_process_t *p)
{
    if (s != kbd) return RS_OK;
    int err = ps_process_give(p, KBD_SLOT_PORTS, kbd_ports, RS_RIGHTS_ALL, 0);
    return err ? err : ps_process_give(p, KBD_SLOT_IRQ, kbd_irq, RS_RIGHTS_ALL, 0);
}

int kbd_getc(void)
{
    if (!kbd) return -1;
    struct kbd_ring *r = (struct kbd_ring *)((uint8_t *)kbd->control + KBD_RING_OFFSET);
    uint64_t head = r->head, tail = r->tail;
    if (head == tail) return -1;
    if (head - tail > KBD_RING) { // not what the driver writes: skip what cannot be trusted
        r->tail = head;
        return -1;
    }
    __asm__ volatile("" ::: "memory"); // head before the byte (the driver wrote them in order)
    uint8_t c = r->buf[tail % KBD_RING];
    r->tail = tail + 1;
    return c;
}
