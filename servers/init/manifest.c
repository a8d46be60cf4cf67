// SPDX-License-Identifier: MIT
// Boot manifest parser: plain line-oriented text, checked strictly so a typo stops the boot
// with the line number instead of starting a half-configured system.
#include "manifest.h"
#include "ipc.h"
#include "fmt.h"
#include "kstring.h"

const char *const manifest_inject_names[] = {"none",   "kill",    "null",   "wild",    "hang",
                                             "random", "corrupt", "garble", "exhaust", "restart"};
_Static_assert(sizeof(manifest_inject_names) / sizeof(manifest_inject_names[0]) == IPC_INJECT_COUNT,
               "a name per fault kind");

static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

static int copy_word(char *dst, const char *src, char *err, size_t n)
{
    if (!*src || strlen(src) >= MANIFEST_NAME)
        return fail(err, n, "name '%s' empty or too long", src);
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

int manifest_inject_kind(const char *word)
{
    for (int k = IPC_INJECT_KILL; k < IPC_INJECT_COUNT; k++)
        if (!strcmp(word, manifest_inject_names[k])) return k;
    return -1;
}

int manifest_find(const struct manifest *m, const char *name)
{
    for (unsigned i = 0; i < m->nservers; i++)
        if (!strcmp(m->servers[i].name, name)) return (int)i;
    return -1;
}

static int server_key(struct manifest_server *s, const char *key, const char *val, char *err,
                      size_t n)
{
    uint64_t v = 0;
    if (!strcmp(key, "image")) return copy_word(s->image, val, err, n);
    if (!strcmp(key, "guest")) return copy_word(s->guest, val, err, n);
    if (!strcmp(key, "kernel")) return copy_word(s->kernel, val, err, n);
    if (!strcmp(key, "initrd")) return copy_word(s->initrd, val, err, n);
    if (!strcmp(key, "device")) return copy_word(s->device, val, err, n);
    if (!strcmp(key, "disk")) return copy_word(s->disk, val, err, n);
    if (!strcmp(key, "cmdline")) {
        while (*val == ' ' || *val == '\t') val++; // split() left the rest of the line as it was
        size_t k = strlen(val);
        while (k && (val[k - 1] == ' ' || val[k - 1] == '\t')) k--;
        if (k >= MANIFEST_CMDLINE)
            return fail(err, n, "cmdline of %lu characters: at most %d", (unsigned long)k,
                        MANIFEST_CMDLINE - 1);
        memcpy(s->cmdline, val, k);
        s->cmdline[k] = 0;
        return 0;
    }
    if (!strcmp(key, "caps")) {
        char buf[MANIFEST_NAME];
        for (const char *p = val; *p;) {
            size_t k = 0;
            while (p[k] && p[k] != ',') k++;
            if (k == 0 || k >= MANIFEST_NAME) return fail(err, n, "bad service name in caps");
            if (s->ncaps == MANIFEST_CAPS) return fail(err, n, "more than %d caps", MANIFEST_CAPS);
            memcpy(buf, p, k);
            buf[k] = 0;
            memcpy(s->caps[s->ncaps++], buf, k + 1);
            p += k + (p[k] == ',');
        }
        return 0;
    }
    // the key first: a misspelt key must be reported as such, not as a bad number
    unsigned *field = !strcmp(key, "prio")       ? &s->prio
                      : !strcmp(key, "persist")  ? &s->persist_pages
                      : !strcmp(key, "watchdog") ? &s->watchdog_ms
                      : !strcmp(key, "restarts") ? &s->max_restarts
                      : !strcmp(key, "backoff")  ? &s->backoff_ms
                      : !strcmp(key, "ram")      ? &s->ram_mib
                      : !strcmp(key, "console")  ? &s->console
                      : !strcmp(key, "shutdown") ? &s->shutdown
                      : !strcmp(key, "dma")      ? &s->dma_pages
                      : !strcmp(key, "owed")     ? &s->owed_ticks
                                                 : NULL;
    if (!field) return fail(err, n, "unknown key '%s'", key);
    if (parse_u64(val, &v) || v > MANIFEST_MAX_NUMBER)
        return fail(err, n, "bad number '%s' for %s", val, key);
    if (field == &s->prio && v > 254)
        return fail(err, n, "prio %lu above 254 (init runs at 255)", v);
    if (field == &s->persist_pages && v > 64)
        return fail(err, n, "persist %lu pages: at most 64", v);
    if ((field == &s->console || field == &s->shutdown) && v > 1)
        return fail(err, n, "%s=%lu: 0 or 1", key, v);
    if (field == &s->ram_mib && (v < 2 || v > MANIFEST_MAX_RAM_MIB || v % 2))
        return fail(err, n, "ram %lu MiB: an even number from 2 to %d", v, MANIFEST_MAX_RAM_MIB);
    if (field == &s->dma_pages && (v < 1 || v > 256))
        return fail(err, n, "dma %lu pages: 1 to 256", v);
    if (field == &s->owed_ticks && v > 100) return fail(err, n, "owed %lu ticks: at most 100", v);
    *field = (unsigned)v;
    return 0;
}

static int channel_key(struct manifest_channel *c, const char *key, const char *val, char *err,
                       size_t n)
{
    uint64_t v = 0;
    if (!strcmp(key, "client")) return copy_word(c->client, val, err, n);
    if (!strcmp(key, "server")) return copy_word(c->server, val, err, n);
    if (strcmp(key, "pages")) return fail(err, n, "unknown key '%s'", key);
    if (parse_u64(val, &v) || v < 3 || v > 256)
        return fail(err, n, "channel pages '%s': 3 to 256", val);
    c->pages = (unsigned)v;
    return 0;
}

/* A VMM's keys together, and its defaults: RAM, and persistent pages for its device state. */
static int vm_defaults(struct manifest_server *s, bool has_cmdline, char *err, size_t n)
{
    if (s->guest[0] && s->kernel[0]) return fail(err, n, "guest= and kernel= exclude each other");
    if (!s->kernel[0] && (s->initrd[0] || has_cmdline || s->disk[0]))
        return fail(err, n, "%s= needs kernel=",
                    s->initrd[0] ? "initrd"
                    : s->disk[0] ? "disk"
                                 : "cmdline");
    if (!manifest_is_vmm(s)) return s->ram_mib ? fail(err, n, "ram= needs guest= or kernel=") : 0;
    if (!s->ram_mib) s->ram_mib = MANIFEST_DEFAULT_RAM_MIB;
    if (!s->persist_pages) s->persist_pages = 2; // two copies of struct vmm_state (vmm.h)
    return 0;
}

static int inject_key(struct manifest_inject *j, const char *key, const char *val, char *err,
                      size_t n)
{
    uint64_t v = 0;
    if (!strcmp(key, "target")) return copy_word(j->target, val, err, n);
    if (!strcmp(key, "kind")) {
        int k = manifest_inject_kind(val);
        if (k < 0) return fail(err, n, "unknown fault kind '%s'", val);
        j->kind = (unsigned)k;
        return 0;
    }
    if (!strcmp(key, "kinds")) { // what kind=random picks from (default: every kind)
        char buf[MANIFEST_NAME];
        for (const char *p = val; *p;) {
            size_t k = 0;
            while (p[k] && p[k] != ',') k++;
            if (k == 0 || k >= MANIFEST_NAME) return fail(err, n, "bad fault kind in kinds");
            memcpy(buf, p, k);
            buf[k] = 0;
            int kind = manifest_inject_kind(buf);
            if (kind < 0 || kind == IPC_INJECT_RANDOM)
                return fail(err, n, "kinds: '%s' is no fault kind", buf);
            j->kinds |= 1u << kind;
            p += k + (p[k] == ',');
        }
        return 0;
    }
    if (!strcmp(key, "seed")) {
        if (parse_u64(val, &j->seed)) return fail(err, n, "bad number '%s' for seed", val);
        return 0;
    }
    bool at = !strcmp(key, "at"), every = !strcmp(key, "every"), count = !strcmp(key, "count"),
         jitter = !strcmp(key, "jitter");
    if (!at && !every && !count && !jitter) return fail(err, n, "unknown key '%s'", key);
    if (parse_u64(val, &v) || v > MANIFEST_MAX_NUMBER)
        return fail(err, n, "bad number '%s' for %s", val, key);
    if (at) j->at_ms = v;
    else if (every) j->every_ms = v;
    else if (jitter) j->jitter_ms = v;
    else j->count = (unsigned)v;
    return 0;
}

static bool has_eq(const char *s)
{
    for (; *s; s++)
        if (*s == '=') return true;
    return false;
}

/* Splits a line into words (in place); returns how many. A word starting "cmdline=" is the rest
 * of the line: a kernel command line has spaces of its own. */
static unsigned split(char *line, char *words[], unsigned max)
{
    unsigned n = 0;
    for (char *p = line; *p;) {
        while (*p == ' ' || *p == '\t') *p++ = 0;
        if (!*p || *p == '#') break;
        if (n == max) return max + 1;
        words[n++] = p;
        if (!strncmp(p, "cmdline=", 8)) break;
        while (*p && *p != ' ' && *p != '\t') p++;
    }
    return n;
}

static int parse_channel(char **w, unsigned nw, struct manifest *m, char *err, size_t n)
{
    if (m->nchannels == MANIFEST_CHANNELS)
        return fail(err, n, "more than %d channels", MANIFEST_CHANNELS);
    if (nw < 2 || has_eq(w[1])) return fail(err, n, "channel needs a name");
    struct manifest_channel *c = &m->channels[m->nchannels];
    *c = (struct manifest_channel){.pages = MANIFEST_DEFAULT_CHANNEL};
    if (copy_word(c->name, w[1], err, n)) return -1;
    for (unsigned i = 0; i < m->nchannels; i++)
        if (!strcmp(m->channels[i].name, c->name))
            return fail(err, n, "channel '%s' twice", c->name);
    for (unsigned i = 2; i < nw; i++) {
        char *eq = w[i];
        while (*eq && *eq != '=') eq++;
        if (!*eq) return fail(err, n, "expected key=value, got '%s'", w[i]);
        *eq = 0;
        if (channel_key(c, w[i], eq + 1, err, n)) return -1;
    }
    if (!c->client[0] || !c->server[0]) return fail(err, n, "channel needs client= and server=");
    if (!strcmp(c->client, c->server))
        return fail(err, n, "channel between '%s' and itself", c->client);
    m->nchannels++;
    return 0;
}

static int parse_line(char *line, struct manifest *m, char *err, size_t n)
{
    char *w[16];
    unsigned nw = split(line, w, 16);
    if (nw == 0) return 0;
    if (nw > 16) return fail(err, n, "too many words");
    bool server = !strcmp(w[0], "server");
    if (!strcmp(w[0], "channel")) return parse_channel(w, nw, m, err, n);
    if (!server && strcmp(w[0], "inject")) return fail(err, n, "unknown directive '%s'", w[0]);
    struct manifest_server *s = NULL;
    struct manifest_inject *j = NULL;
    unsigned first = 1;
    if (server) {
        if (m->nservers == MANIFEST_SERVERS)
            return fail(err, n, "more than %d servers", MANIFEST_SERVERS);
        if (nw < 2 || has_eq(w[1])) return fail(err, n, "server needs a name");
        s = &m->servers[m->nservers];
        *s = (struct manifest_server){.prio = 100,
                                      .watchdog_ms = 500,
                                      .max_restarts = 100,
                                      .backoff_ms = 500,
                                      .console = 1,
                                      .owed_ticks = MANIFEST_DEFAULT_OWED};
        if (copy_word(s->name, w[1], err, n) || copy_word(s->image, w[1], err, n)) return -1;
        if (manifest_find(m, s->name) >= 0) return fail(err, n, "server '%s' twice", s->name);
        first = 2;
    } else {
        if (m->ninjects == MANIFEST_INJECTS)
            return fail(err, n, "more than %d injects", MANIFEST_INJECTS);
        j = &m->injects[m->ninjects];
        *j = (struct manifest_inject){.count = 1};
    }
    bool has_cmdline = false;
    for (unsigned i = first; i < nw; i++) {
        has_cmdline |= s && !strncmp(w[i], "cmdline=", 8);
        char *eq = w[i];
        while (*eq && *eq != '=') eq++;
        if (!*eq) return fail(err, n, "expected key=value, got '%s'", w[i]);
        *eq = 0;
        if (s ? server_key(s, w[i], eq + 1, err, n) : inject_key(j, w[i], eq + 1, err, n))
            return -1;
    }
    if (j && (!j->target[0] || !j->kind)) return fail(err, n, "inject needs target= and kind=");
    if (s && vm_defaults(s, has_cmdline, err, n)) return -1;
    if (s && s->device[0] && !s->dma_pages) s->dma_pages = MANIFEST_DEFAULT_DMA;
    if (s) m->nservers++;
    else m->ninjects++;
    return 0;
}

unsigned manifest_parse(const char *text, size_t len, struct manifest *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    char line[MANIFEST_LINE];
    unsigned lineno = 0;
    for (size_t pos = 0; pos < len;) {
        size_t k = 0;
        lineno++;
        while (pos + k < len && text[pos + k] != '\n') k++;
        if (k >= sizeof(line)) return fail(err, errlen, "line too long"), lineno;
        memcpy(line, text + pos, k);
        line[k] = 0;
        if (k && line[k - 1] == '\r') line[k - 1] = 0; // a manifest saved with CRLF line ends
        pos += k + 1;
        unsigned ns = m->nservers, ni = m->ninjects, nc = m->nchannels;
        if (parse_line(line, m, err, errlen)) return lineno;
        if (m->nchannels > nc) m->channels[nc].line = lineno;
        // remembered for the checks below, which can only run once every server is known
        if (m->nservers > ns) m->servers[ns].line = lineno;
        if (m->ninjects > ni) m->injects[ni].line = lineno;
    }
    // every caps= and target= must name a server
    for (unsigned i = 0; i < m->nservers; i++)
        for (unsigned c = 0; c < m->servers[i].ncaps; c++)
            if (manifest_find(m, m->servers[i].caps[c]) < 0)
                return fail(err, errlen, "server '%s': caps names unknown '%s'", m->servers[i].name,
                            m->servers[i].caps[c]),
                       m->servers[i].line;
    for (unsigned i = 0; i < m->nchannels; i++) {
        const struct manifest_channel *c = &m->channels[i];
        const char *end[2] = {c->client, c->server};
        for (unsigned e = 0; e < 2; e++) {
            if (manifest_find(m, end[e]) < 0)
                return fail(err, errlen, "channel '%s' names unknown '%s'", c->name, end[e]),
                       c->line;
            unsigned uses = 0;
            for (unsigned k = 0; k <= i; k++)
                uses += !strcmp(m->channels[k].client, end[e]) ||
                        !strcmp(m->channels[k].server, end[e]);
            if (uses > MANIFEST_SERVER_CHANNELS)
                return fail(err, errlen, "server '%s' in more than %d channels", end[e],
                            MANIFEST_SERVER_CHANNELS),
                       c->line;
        }
    }
    for (unsigned i = 0; i < m->ninjects; i++)
        if (manifest_find(m, m->injects[i].target) < 0)
            return fail(err, errlen, "inject target '%s' unknown", m->injects[i].target),
                   m->injects[i].line;
    return 0;
}
