// SPDX-License-Identifier: MIT
// kbd: the PS/2 keyboard driver. It takes scancodes from the i8042 controller on IRQ 1 and puts
// the bytes they type into the input ring that init's shell reads (proto/kbd.h), so a machine
// with a screen and a keyboard but no serial line can be driven. Supervised and restarted like
// any server: its ports, its IRQ and the ring are init's and outlive each instance.
#include "ipc.h"
#include "invoke_stubs.h"
#include "proto/kbd.h"
#include "scancode.h"

#define I8042_DATA     0x60
#define I8042_STATUS   0x64 /* read: status; write: command */
#define ST_OUT_FULL    0x01 /* a byte waits in the output buffer (port 0x60) */
#define ST_IN_FULL     0x02 /* the controller has not taken the last command or data yet */
#define ST_AUX         0x20 /* the waiting byte is from the mouse port */
#define CMD_READ_CFG   0x20
#define CMD_WRITE_CFG  0x60
#define CMD_ENABLE_KBD 0xAE
#define CFG_KBD_IRQ    0x01 /* configuration byte: IRQ 1 on output buffer full */
#define CFG_KBD_OFF    0x10 /* keyboard clock disabled */
#define CFG_TRANSLATE  0x40 /* translate set 2 to set 1 */

static ipc_server_t server;
static struct kbd_keys keys;
static uint64_t dropped;

static uint32_t port_in(uint16_t port)
{
    uint32_t v = 0xFF;
    ps_ioport_in(KBD_SLOT_PORTS, 1, port, &v);
    return v;
}

static void port_out(uint16_t port, uint8_t v) { ps_ioport_out(KBD_SLOT_PORTS, 1, port, v); }

/* Waits (bounded) until the controller takes a byte; false if it never does. */
static bool wait_writable(void)
{
    for (unsigned i = 0; i < 100000; i++)
        if (!(port_in(I8042_STATUS) & ST_IN_FULL)) return true;
    return false;
}

static bool wait_readable(void)
{
    for (unsigned i = 0; i < 100000; i++)
        if (port_in(I8042_STATUS) & ST_OUT_FULL) return true;
    return false;
}

static struct kbd_ring *ring(void)
{
    return (struct kbd_ring *)((uint8_t *)server.control + KBD_RING_OFFSET);
}

static void push(uint8_t c)
{
    struct kbd_ring *r = ring();
    uint64_t head = r->head;
    if (head - r->tail >= KBD_RING) {
        if (!dropped++) rt_printf("kbd: input ring full (init reads nothing), dropping keys\n");
        return;
    }
    r->buf[head % KBD_RING] = c;
    __asm__ volatile("" ::: "memory"); // the byte is in before head says so (x86 keeps order)
    r->head = head + 1;
}

/* Takes every byte the controller holds (i8042 status bit 0), keyboard bytes only. */
static void drain(void)
{
    for (unsigned n = 0; n < 64; n++) {
        uint32_t st = port_in(I8042_STATUS);
        if (st == 0xFF || !(st & ST_OUT_FULL)) return;
        uint8_t code = (uint8_t)port_in(I8042_DATA);
        if (st & ST_AUX) continue;
        int c = kbd_scancode(&keys, code);
        if (c >= 0) push((uint8_t)c);
    }
}

/* Keyboard port on, its IRQ on, scancodes translated to set 1; the rest of the configuration
 * (the mouse port) as the firmware left it. False if no controller answers. */
static bool controller_init(void)
{
    if (port_in(I8042_STATUS) == 0xFF) return false; // nothing decodes the port: reads float high
    for (unsigned i = 0; i < 32 && (port_in(I8042_STATUS) & ST_OUT_FULL); i++) port_in(I8042_DATA);
    if (!wait_writable()) return false;
    port_out(I8042_STATUS, CMD_READ_CFG);
    if (!wait_readable()) return false;
    uint8_t cfg = (uint8_t)port_in(I8042_DATA);
    cfg = (uint8_t)((cfg | CFG_KBD_IRQ | CFG_TRANSLATE) & ~CFG_KBD_OFF);
    if (!wait_writable()) return false;
    port_out(I8042_STATUS, CMD_WRITE_CFG);
    if (!wait_writable()) return false;
    port_out(I8042_DATA, cfg);
    if (!wait_writable()) return false;
    port_out(I8042_STATUS, CMD_ENABLE_KBD);
    return true;
}

static int kbd_handle(void *ctx, rs_badge_t client, const ipc_msg_t *req, ipc_msg_t *reply)
{
    (void)ctx, (void)client, (void)req, (void)reply;
    return RS_ILLEGAL_OPERATION; // no requests: the ring is the interface
}

int main(void *arg)
{
    (void)arg;
    ipc_server_init(&server, kbd_handle, NULL);
    bool ok = controller_init();
    if (ok)
        rt_printf("kbd: instance %lu, i8042 keyboard on IRQ %u\n", server.control->instance,
                  KBD_IRQ);
    else rt_printf("kbd: no i8042 controller answers (status port reads ff): no keyboard\n");
    if (ok) {
        drain();
        ps_irq_handler_ack(KBD_SLOT_IRQ); // the line stays masked until acknowledged
    }
    ipc_server_seal(&server);
    rs_result_t r = rs_recv(server.ep);
    for (;;) {
        ipc_server_round(&server, r); // server as sealed, no receive failing for ever; heartbeat
        if (r.error == RS_OK && rs_msginfo_label(r.info) == RS_NOTIFICATION_LABEL) {
            if (r.badge & IPC_BADGE_PING) ipc_server_ping(&server);
            if (ok && (r.badge & KBD_BADGE_IRQ)) {
                drain();
                ps_irq_handler_ack(KBD_SLOT_IRQ);
            }
            r = rs_recv(server.ep);
        } else if (r.error == RS_OK) {
            ipc_msg_t req, reply;
            ipc_msg_get(&req, r.info);
            ipc_server_handle(&server, r.badge, &req, &reply);
            r = rs_reply_recv(server.ep, ipc_msg_put(&reply));
        } else {
            r = rs_recv(server.ep);
        }
    }
}
