// SPDX-License-Identifier: MIT
// A small serial-console shell: ps, restarts, crash NAME KIND, help. Input is polled on every
// timer tick through the kernel's debug console.
#include "init.h"

static char line[80];
static unsigned len;

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
        init_log("commands: ps | restarts | crash NAME kill|null|wild|hang|random | help\n");
    } else if (!strcmp(w[0], "ps")) {
        supervisor_ps();
    } else if (!strcmp(w[0], "restarts")) {
        for (unsigned i = 0; i < init.nservers; i++)
            init_log("%s: %u restarts\n", init.servers[i].m->name, init.servers[i].restarts);
    } else if (!strcmp(w[0], "crash") && n == 3) {
        struct server *s = supervisor_find(w[1]);
        int kind = manifest_inject_kind(w[2]);
        if (!s || kind < 0) init_log("crash: unknown server or kind\n");
        else supervisor_inject(s, (unsigned)kind);
    } else {
        init_log("unknown command '%s' (try help)\n", w[0]);
    }
}

void shell_poll(void)
{
    for (int c; (c = rs_console_getchar(RS_INIT_CONSOLE)) >= 0;) {
        if (c == '\r' || c == '\n') {
            rs_console_putchar(RS_INIT_CONSOLE, '\n');
            line[len] = 0;
            run(line);
            len = 0;
        } else if ((c == 8 || c == 127) && len) {
            len--;
        } else if (c >= ' ' && len + 1 < sizeof(line)) {
            line[len++] = (char)c;
            rs_console_putchar(RS_INIT_CONSOLE, (char)c); // echo
        }
    }
}
