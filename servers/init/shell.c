// SPDX-License-Identifier: MIT
// A small console shell: ps, restarts, crash NAME KIND, attach NAME, net [NAME], help. Input is
// polled on every timer tick: the serial console through the kernel's debug console, then what
// the PS/2 keyboard driver typed (its ring, kbd.c). Both are one stream of typed bytes.
//
// attach NAME gives the keyboard to a guest: every byte typed goes into the console ring of its
// VMM (proto/vmm.h, in the control page: init never blocks on a VMM, and the bytes wait there
// while the VMM restarts), and the VMM prints the guest's output raw, so the guest echoes and
// prompts as on a terminal. Ctrl-] (0x1D, telnet's escape) gives the keyboard back to this
// shell. What does not fit in the ring (the guest reads nothing) is dropped and counted.
#include "init.h"
#include "proto/vmm.h"
#include "servers/net/status.h"

static char line[80];
static unsigned len;
static struct server *attached; /* the VMM the keyboard goes to, NULL: this shell */
static uint64_t dropped;        /* bytes the attached guest's ring had no room for */

static struct vmm_console_ring *ring_of(struct server *s)
{
    return (struct vmm_console_ring *)((uint8_t *)s->control + VMM_CONSOLE_OFFSET);
}

static void attach(const char *name)
{
    struct server *s = supervisor_find(name);
    if (!s) {
        init_log("attach: no server '%s'\n", name);
        return;
    }
    if (!s->vm) {
        init_log("attach: %s runs no guest\n", name);
        return;
    }
    if (s->given_up) {
        init_log("attach: %s was given up (its guest no longer runs)\n", name);
        return;
    }
    attached = s;
    dropped = 0;
    ring_of(s)->attached = 1;
    init_log("attached to %s: typing goes to its guest; Ctrl-] comes back\n", name);
}

static void detach(void)
{
    ring_of(attached)->attached = 0;
    rs_console_putchar(RS_INIT_CONSOLE, '\n'); // the guest's prompt may have left the line open
    if (dropped)
        init_log("detached from %s (%lu bytes of input dropped: its guest read nothing)\n",
                 attached->m->name, dropped);
    else init_log("detached from %s\n", attached->m->name);
    attached = NULL;
}

/* One byte for the attached guest. The VMM publishes `tail` (what it consumed); anything but
 * 0..VMM_CONSOLE_RING bytes in flight means the page was scribbled on: nothing is written. */
static void send_byte(uint8_t c)
{
    struct vmm_console_ring *r = ring_of(attached);
    uint64_t head = r->head;
    if (head - r->tail >= VMM_CONSOLE_RING) {
        if (!dropped++) init_log("%s: input ring full, dropping input\n", attached->m->name);
        return;
    }
    r->buf[head % VMM_CONSOLE_RING] = c;
    __asm__ volatile("" ::: "memory"); // the byte is in before head says so (x86 keeps order)
    r->head = head + 1;
}

/* A VMM's exits by reason (include/resurgo/vcpu.h), as it counts them in its control page. */
static void exits(const struct server *s)
{
    static const char *const names[] = {"none",   "io",      "mmio",   "cpuid",  "rdmsr",
                                        "wrmsr",  "hlt",     "vmcall", "window", "exception",
                                        "triple", "invalid", "other"};
    if (!s || !manifest_is_vmm(s->m)) {
        init_log("exits: no such VMM\n");
        return;
    }
    char line[320] = "";
    int len = 0;
    uint64_t total = 0;
    for (unsigned r = 1; r < sizeof(names) / sizeof(names[0]); r++) {
        uint64_t n = s->control->vmm_exits[r];
        total += n;
        if (n && len < (int)sizeof(line))
            len += rt_snprintf(line + len, sizeof(line) - (size_t)len, " %s %lu", names[r], n);
    }
    init_log("exits %s:%s total %lu\n", s->m->name, line, total);
}

/* `net [NAME]`: the switch's ports, counters and MAC table, from the status page it publishes in
 * its control page (servers/net/status.h). init only copies memory: a switch that hangs or is
 * down leaves its last status, and a page it scribbled on is bounded before use. */
static void net_show(const struct server *s)
{
    static struct net_status st; // a copy: the switch may write while we print
    const struct net_status *live =
        (const struct net_status *)((const uint8_t *)s->control + NET_STATUS_OFFSET);
    bool steady = false;
    for (unsigned try = 0; try < 4 && !steady; try++) {
        uint32_t seq = live->seq;
        __asm__ volatile("" ::: "memory");
        memcpy(&st, (const void *)live, sizeof st);
        __asm__ volatile("" ::: "memory");
        steady = !(seq & 1) && live->seq == seq;
    }
    if (st.magic != NET_STATUS_MAGIC || st.nports > SW_PORTS || st.nentries > SW_TABLE) {
        init_log("net %s: no status yet\n", s->m->name);
        return;
    }
    for (unsigned p = 0; p < st.nports; p++) st.port[p].name[NET_LINK_NAME - 1] = 0;
    uint64_t now = init_now_ms();
    init_log("net %s: instance %lu, %u ports, %u MACs learned, status %lu ms old%s\n", s->m->name,
             st.instance, st.nports, st.nentries, now - st.now_ms, steady ? "" : " (changing)");
    for (unsigned p = 0; p < st.nports; p++) {
        const struct net_status_port *o = &st.port[p];
        char drops[160] = "";
        int n = 0;
        for (unsigned c = 0; c < SW_CAUSES; c++)
            if (o->c.drop[c] && n < (int)sizeof drops)
                n += rt_snprintf(drops + n, sizeof drops - (size_t)n, " %s %lu", sw_cause_name[c],
                                 o->c.drop[c]);
        char mac[18] = "any MAC";
        if (!o->uplink)
            rt_snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", o->mac[0], o->mac[1],
                        o->mac[2], o->mac[3], o->mac[4], o->mac[5]);
        init_log("  %-8s %-17s rx %lu tx %lu drops:%s\n", o->name, mac, o->c.rx, o->c.tx,
                 n ? drops : " none");
    }
    for (unsigned i = 0; i < st.nentries; i++) {
        const sw_entry_t *e = &st.table[i];
        if (e->port >= st.nports) continue;
        init_log("  %02x:%02x:%02x:%02x:%02x:%02x -> %s, seen %u s ago\n", e->mac[0], e->mac[1],
                 e->mac[2], e->mac[3], e->mac[4], e->mac[5], st.port[e->port].name,
                 (uint32_t)((uint32_t)now - e->seen) / 1000);
    }
}

static void net(const char *name)
{
    bool any = false;
    for (unsigned i = 0; i < init.nservers; i++) {
        struct server *s = &init.servers[i];
        if (name ? strcmp(s->m->name, name) : strcmp(s->m->image, "net")) continue;
        net_show(s);
        any = true;
    }
    if (!any) init_log("net: no switch%s%s\n", name ? " called " : "", name ? name : "");
}

static void run(char *cmd)
{
    char *w[4] = {0};
    unsigned n = 0;
    for (char *p = cmd; *p && n < 4;) {
        while (*p == ' ') *p++ = 0;
        if (!*p) break;
        w[n++] = p;
        while (*p && *p != ' ') p++;
    }
    if (!n) return;
    if (!strcmp(w[0], "help")) {
        init_log("commands: ps | restarts | crash NAME kill|null|wild|hang|random | attach NAME "
                 "(a guest's console; Ctrl-] comes back) | exits NAME (a VMM's exits by reason) | "
                 "help\n");
        init_log("  net [NAME]: the switch's ports, counters and MAC table\n");
    } else if (!strcmp(w[0], "ps")) {
        supervisor_ps();
    } else if (!strcmp(w[0], "restarts")) {
        for (unsigned i = 0; i < init.nservers; i++)
            init_log("%s: %u restarts\n", init.servers[i].m->name, init.servers[i].restarts);
    } else if (!strcmp(w[0], "attach") && n == 2) {
        attach(w[1]);
    } else if (!strcmp(w[0], "exits") && n == 2) {
        exits(supervisor_find(w[1]));
    } else if (!strcmp(w[0], "net") && n <= 2) {
        net(n == 2 ? w[1] : NULL);
    } else if (!strcmp(w[0], "crash") && n == 3) {
        struct server *s = supervisor_find(w[1]);
        int kind = manifest_inject_kind(w[2]);
        if (!s || kind < 0) init_log("crash: unknown server or kind\n");
        else supervisor_inject(s, (unsigned)kind);
    } else {
        init_log("unknown command '%s' (try help)\n", w[0]);
    }
}

/* One typed byte, from either source. */
static void shell_input(int c)
{
    if (attached) {
        if (c == VMM_CONSOLE_ESCAPE) detach();
        else send_byte((uint8_t)c);
    } else if (c == '\r' || c == '\n') {
        rs_console_putchar(RS_INIT_CONSOLE, '\n');
        line[len] = 0;
        run(line);
        len = 0;
    } else if ((c == 8 || c == 127) && len) {
        len--;
        rs_console_write(RS_INIT_CONSOLE, "\b \b", 3); // rub it out on a screen too
    } else if (c >= ' ' && len + 1 < sizeof(line)) {
        line[len++] = (char)c;
        rs_console_putchar(RS_INIT_CONSOLE, (char)c); // echo
    }
}

void shell_poll(void)
{
    for (int c; (c = rs_console_getchar(RS_INIT_CONSOLE)) >= 0;) shell_input(c);
    for (int c; (c = kbd_getc()) >= 0;) shell_input(c);
}
