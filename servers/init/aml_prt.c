// SPDX-License-Identifier: MIT
// A bounded reader of \_SB.PCI0._PRT's static forms in a DSDT (see aml_prt.h). AML encodings:
// ACPI 6.5 chapter 20 (20.2.4 PkgLength, 20.2.2 NameString, 20.2.3 data objects); _PRT: 6.2.13;
// the Extended Interrupt descriptor: 6.4.3.6.
#include "aml_prt.h"
#include <stdbool.h>

#define HDR_LEN   36
#define MAX_SEGS  16         /* a path deeper than this is not followed */
#define MAX_NEST  32         /* Scope/Device nesting walked */
#define BUDGET    (1u << 22) /* terms examined in one prt_read: bounded time on any table */
#define MAX_LINKS 16         /* link devices remembered */

struct path {
    unsigned n;
    uint32_t seg[MAX_SEGS];
};

enum { K_NONE, K_NAME, K_METHOD, K_DEVICE };

struct link {
    struct path p;
    uint32_t gsi;
    uint8_t flags;
};

struct aml {
    const uint8_t *b;
    size_t end; /* the table's own length */
    unsigned long budget;
    const char *why;
    /* what find() is after and what it found */
    const struct path *want;
    bool done;
    int kind;
    size_t at, lim; /* Name: its data object; Method: its flags byte; both end at lim */
    unsigned nlinks;
    struct link links[MAX_LINKS];
};

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool same_path(const struct path *x, const struct path *y)
{
    if (x->n != y->n) return false;
    for (unsigned i = 0; i < x->n; i++)
        if (x->seg[i] != y->seg[i]) return false;
    return true;
}

/* A PkgLength at pos (20.2.4): the package's contents start at *body and it ends at *pend
 * (the length counts its own encoding bytes), which must lie within lim. */
static bool pkglen(const struct aml *a, size_t pos, size_t lim, size_t *body, size_t *pend)
{
    if (pos >= lim) return false;
    uint8_t lead = a->b[pos];
    unsigned n = lead >> 6;
    if (lim - pos < 1 + (size_t)n) return false;
    size_t len;
    if (!n) len = lead & 0x3F;
    else {
        if (lead & 0x30) return false; // bits 5:4 are reserved (zero) in multi-byte lengths
        len = lead & 0x0F;
        for (unsigned i = 1; i <= n; i++) len |= (size_t)a->b[pos + i] << (4 + 8 * (i - 1));
    }
    if (len < 1 + (size_t)n || len > lim - pos) return false;
    *body = pos + 1 + n;
    *pend = pos + len;
    return true;
}

static bool lead_char(uint8_t c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
static bool name_char(uint8_t c) { return lead_char(c) || (c >= '0' && c <= '9'); }
static bool name_start(uint8_t c)
{
    return lead_char(c) || c == '\\' || c == '^' || c == 0x2E || c == 0x2F;
}

/* A NameString at pos (20.2.2), made absolute against scope into *out; *single: a lone NameSeg
 * without prefix, which AML looks up in the enclosing scopes too (5.3). */
static bool namestring(const struct aml *a, size_t pos, size_t lim, const struct path *scope,
                       struct path *out, bool *single, size_t *next)
{
    const uint8_t *b = a->b;
    size_t p = pos;
    bool root = false;
    unsigned up = 0, nseg;
    if (p < lim && b[p] == '\\') root = true, p++;
    else
        while (p < lim && b[p] == '^') {
            if (++up > MAX_SEGS) return false;
            p++;
        }
    if (p >= lim) return false;
    if (b[p] == 0) nseg = 0, p++;
    else if (b[p] == 0x2E) nseg = 2, p++;
    else if (b[p] == 0x2F) {
        if (++p >= lim) return false;
        nseg = b[p++];
        if (!nseg) return false;
    } else nseg = 1;
    if (nseg > MAX_SEGS || lim - p < 4 * (size_t)nseg) return false;
    struct path r;
    if (root) r.n = 0;
    else {
        if (up > scope->n) return false;
        r = *scope;
        r.n -= up;
    }
    if (r.n + nseg > MAX_SEGS) return false;
    for (unsigned i = 0; i < nseg; i++, p += 4) {
        if (!lead_char(b[p]) || !name_char(b[p + 1]) || !name_char(b[p + 2]) ||
            !name_char(b[p + 3]))
            return false;
        r.seg[r.n++] = le32(b + p);
    }
    *out = r;
    *single = !root && !up && nseg == 1;
    *next = p;
    return true;
}

/* An integer constant (20.2.3: Zero, One, Ones, Byte/Word/DWord/QWordConst). */
static bool integer(const struct aml *a, size_t pos, size_t lim, uint64_t *v, size_t *next)
{
    if (pos >= lim) return false;
    unsigned n;
    switch (a->b[pos]) {
    case 0x00: *v = 0, *next = pos + 1; return true;
    case 0x01: *v = 1, *next = pos + 1; return true;
    case 0xFF: *v = ~0ull, *next = pos + 1; return true;
    case 0x0A: n = 1; break;
    case 0x0B: n = 2; break;
    case 0x0C: n = 4; break;
    case 0x0E: n = 8; break;
    default: return false;
    }
    if (lim - pos - 1 < n) return false;
    uint64_t x = 0;
    for (unsigned i = 0; i < n; i++) x |= (uint64_t)a->b[pos + 1 + i] << (8 * i);
    *v = x;
    *next = pos + 1 + n;
    return true;
}

/* Skips a Name's data object: an integer, a string, a Buffer/Package/VarPackage, a name. */
static bool skip_data(const struct aml *a, size_t pos, size_t lim, size_t *next)
{
    uint64_t v;
    size_t body, pend;
    if (integer(a, pos, lim, &v, next)) return true;
    if (pos >= lim) return false;
    uint8_t op = a->b[pos];
    if (op == 0x0D) { // String: ASCII up to a NUL
        for (size_t p = pos + 1; p < lim; p++)
            if (!a->b[p]) return *next = p + 1, true;
        return false;
    }
    if (op == 0x11 || op == 0x12 || op == 0x13) {
        if (!pkglen(a, pos + 1, lim, &body, &pend)) return false;
        *next = pend;
        return true;
    }
    if (name_start(op)) {
        struct path p, root = {0};
        bool single;
        return namestring(a, pos, lim, &root, &p, &single, next);
    }
    return false;
}

static bool found(struct aml *a, int kind, size_t at, size_t lim)
{
    a->kind = kind, a->at = at, a->lim = lim, a->done = true;
    return true;
}

/* Walks the declarations in [pos, lim) of scope `scope` looking for a->want. An opcode this
 * reader cannot size ends the walk of this scope only (its parent knows where it ends). */
static void walk(struct aml *a, size_t pos, size_t lim, const struct path *scope, unsigned nest)
{
    const uint8_t *b = a->b;
    while (pos < lim && !a->done) {
        if (!a->budget) {
            a->why = "the DSDT is too large to search";
            return;
        }
        a->budget--;
        size_t body, pend, next;
        struct path p;
        bool single;
        uint64_t v;
        uint8_t op = b[pos];
        switch (op) {
        case 0x10: // Scope
            if (!pkglen(a, pos + 1, lim, &body, &pend) ||
                !namestring(a, body, pend, scope, &p, &single, &next))
                return;
            if (nest < MAX_NEST) walk(a, next, pend, &p, nest + 1);
            pos = pend;
            break;
        case 0x08: // Name
            if (!namestring(a, pos + 1, lim, scope, &p, &single, &next)) return;
            if (same_path(&p, a->want)) {
                found(a, K_NAME, next, lim);
                return;
            }
            if (!skip_data(a, next, lim, &pos)) return;
            break;
        case 0x14: // Method
            if (!pkglen(a, pos + 1, lim, &body, &pend) ||
                !namestring(a, body, pend, scope, &p, &single, &next) || next >= pend)
                return;
            if (same_path(&p, a->want)) {
                found(a, K_METHOD, next, pend);
                return;
            }
            pos = pend;
            break;
        case 0x15: // External: a name, its type and argument count
            if (!namestring(a, pos + 1, lim, scope, &p, &single, &next) || lim - next < 2) return;
            pos = next + 2;
            break;
        case 0x06: // Alias
            if (!namestring(a, pos + 1, lim, scope, &p, &single, &next) ||
                !namestring(a, next, lim, scope, &p, &single, &pos))
                return;
            break;
        case 0x11: // Buffer, Package, VarPackage, If, Else, While: not declarations read here
        case 0x12:
        case 0x13:
        case 0xA0:
        case 0xA1:
        case 0xA2:
            if (!pkglen(a, pos + 1, lim, &body, &pend)) return;
            pos = pend;
            break;
        case 0x5B:
            if (lim - pos < 2) return;
            switch (b[pos + 1]) {
            case 0x82: // Device
                if (!pkglen(a, pos + 2, lim, &body, &pend) ||
                    !namestring(a, body, pend, scope, &p, &single, &next))
                    return;
                if (same_path(&p, a->want)) {
                    found(a, K_DEVICE, next, pend);
                    return;
                }
                if (nest < MAX_NEST) walk(a, next, pend, &p, nest + 1);
                pos = pend;
                break;
            case 0x81: // Field, Processor, PowerResource, ThermalZone, IndexField, BankField
            case 0x83:
            case 0x84:
            case 0x85:
            case 0x86:
            case 0x87:
                if (!pkglen(a, pos + 2, lim, &body, &pend)) return;
                pos = pend;
                break;
            case 0x80: // OperationRegion: name, space, offset and length (constants only here)
                if (!namestring(a, pos + 2, lim, scope, &p, &single, &next) || next >= lim ||
                    !integer(a, next + 1, lim, &v, &next) || !integer(a, next, lim, &v, &pos))
                    return;
                break;
            case 0x01: // Mutex: name, sync level
                if (!namestring(a, pos + 2, lim, scope, &p, &single, &next) || next >= lim) return;
                pos = next + 1;
                break;
            case 0x02: // Event
                if (!namestring(a, pos + 2, lim, scope, &p, &single, &pos)) return;
                break;
            default: return;
            }
            break;
        default: return; // code at scope level, or an opcode not sized here
        }
    }
}

static int find(struct aml *a, const struct path *want)
{
    struct path root = {0};
    a->want = want, a->done = false, a->kind = K_NONE;
    walk(a, HDR_LEN, a->end, &root, 0);
    return a->done ? a->kind : K_NONE;
}

/* Resolves `name` as written in `scope` (5.3: a lone NameSeg is looked up in the scope and then
 * in each enclosing one); *out: the declaration found. */
static int resolve(struct aml *a, const struct path *scope, const struct path *name, bool single,
                   struct path *out)
{
    if (!single) {
        *out = *name;
        return find(a, out);
    }
    for (unsigned lvl = scope->n + 1; lvl-- > 0;) {
        *out = *scope;
        out->n = lvl;
        out->seg[out->n++] = name->seg[name->n - 1];
        int k = find(a, out);
        if (k != K_NONE) return k;
    }
    return K_NONE;
}

static int refuse(struct aml *a, const char *why)
{
    if (!a->why) a->why = why;
    return -1;
}

/* The GSI of a link device named in a _PRT entry: its _CRS must be a Name holding a Buffer
 * whose first descriptor is one Extended Interrupt (6.4.3.6), then the End tag. */
static int link_gsi(struct aml *a, const struct path *scope, const struct path *name, bool single,
                    uint32_t *gsi, uint8_t *flags)
{
    struct path dev;
    for (unsigned i = 0; i < a->nlinks; i++) // most links serve many entries: looked up once
        if (same_path(&a->links[i].p, name)) {
            *gsi = a->links[i].gsi, *flags = a->links[i].flags;
            return 0;
        }
    if (resolve(a, scope, name, single, &dev) != K_DEVICE)
        return refuse(a, "an entry's Source is not a Device");
    if (dev.n == MAX_SEGS) return refuse(a, "a link device's path is too deep");
    struct path crs = dev;
    crs.seg[crs.n++] = le32((const uint8_t *)"_CRS");
    int k = find(a, &crs);
    if (k == K_METHOD)
        return refuse(a, "a link device's _CRS is a Method (needs an AML interpreter)");
    if (k != K_NAME) return refuse(a, "a link device has no _CRS");
    size_t body, pend, rs;
    uint64_t size;
    const uint8_t *b = a->b;
    if (a->at >= a->lim || b[a->at] != 0x11 || !pkglen(a, a->at + 1, a->lim, &body, &pend) ||
        !integer(a, body, pend, &size, &rs))
        return refuse(a, "a link device's _CRS is not a Buffer");
    if (pend - rs < 3 || b[rs] != 0x89)
        return refuse(a, "a link device's _CRS is not an Extended Interrupt descriptor");
    size_t dl = (size_t)b[rs + 1] | (size_t)b[rs + 2] << 8;
    if (dl < 6 || dl > pend - rs - 3 || b[rs + 4] != 1 || dl < 2 + 4u)
        return refuse(a, "a link device's _CRS is not one interrupt");
    size_t end = rs + 3 + dl;
    if (pend - end < 2 || b[end] != 0x79)
        return refuse(a, "a link device's _CRS has more than one descriptor");
    *gsi = le32(b + rs + 5);
    *flags = (uint8_t)((b[rs + 3] & 2 ? 0 : PRT_LEVEL) | (b[rs + 3] & 4 ? PRT_ACTIVE_LOW : 0));
    if (a->nlinks < MAX_LINKS) a->links[a->nlinks++] = (struct link){*name, *gsi, *flags};
    return 0;
}

/* A _PRT Package at pos (ending by lim), declared in `scope`, into out. */
static int read_package(struct aml *a, size_t pos, size_t lim, const struct path *scope,
                        struct prt *out)
{
    const uint8_t *b = a->b;
    size_t body, pend, q;
    uint64_t num;
    if (pos >= lim || (b[pos] != 0x12 && b[pos] != 0x13) || !pkglen(a, pos + 1, lim, &body, &pend))
        return refuse(a, "_PRT is not a Package");
    if (b[pos] == 0x12) {
        if (body >= pend) return refuse(a, "_PRT is not a Package");
        num = b[body], q = body + 1;
    } else if (!integer(a, body, pend, &num, &q))
        return refuse(a, "_PRT is a VarPackage of computed size");
    out->count = 0;
    for (uint64_t i = 0; q < pend; i++) {
        size_t eb, ee, r;
        uint64_t addr, pin, idx;
        uint32_t gsi;
        uint8_t flags;
        if (i >= num) return refuse(a, "_PRT has more entries than its Package declares");
        if (b[q] != 0x12 || !pkglen(a, q + 1, pend, &eb, &ee) || eb >= ee || b[eb] != 4)
            return refuse(a, "a _PRT entry is not a Package of 4");
        if (!integer(a, eb + 1, ee, &addr, &r) || !integer(a, r, ee, &pin, &r))
            return refuse(a, "a _PRT entry's Address or Pin is not a constant");
        if ((addr & 0xFFFF) != 0xFFFF || addr >> 16 > 31 || pin > 3)
            return refuse(a, "a _PRT entry's Address or Pin is out of range");
        if (r < ee && name_start(b[r])) {
            struct path link;
            bool single;
            if (!namestring(a, r, ee, scope, &link, &single, &r) || !integer(a, r, ee, &idx, &r))
                return refuse(a, "a _PRT entry's Source is malformed");
            if (idx) return refuse(a, "a _PRT entry's SourceIndex is not 0 for a link device");
            if (link_gsi(a, scope, &link, single, &gsi, &flags)) return -1;
        } else {
            uint64_t src;
            if (!integer(a, r, ee, &src, &r) || src || !integer(a, r, ee, &idx, &r))
                return refuse(a, "a _PRT entry's Source is neither Zero nor a name");
            if (idx > 0xFFFFFFFFu) return refuse(a, "a _PRT entry's GSI is out of range");
            gsi = (uint32_t)idx, flags = PRT_LEVEL | PRT_ACTIVE_LOW; // 6.2.13: the PCI default
        }
        if (r != ee) return refuse(a, "a _PRT entry has more than 4 elements");
        const struct prt_entry *old = prt_lookup(out, (unsigned)(addr >> 16), (unsigned)pin + 1);
        if (old && old->gsi != gsi) return refuse(a, "_PRT has two GSIs for one pin");
        if (!old) {
            if (out->count == PRT_MAX) return refuse(a, "_PRT has too many entries");
            out->e[out->count++] =
                (struct prt_entry){(uint16_t)(addr >> 16), (uint8_t)pin, flags, gsi};
        }
        q = ee;
    }
    if (!out->count) return refuse(a, "_PRT is empty");
    return 0;
}

/* Reads a Return (Name) at pos: the name and where it ends. */
static bool read_return(const struct aml *a, size_t pos, size_t lim, const struct path *scope,
                        struct path *name, bool *single, size_t *next)
{
    return pos < lim && a->b[pos] == 0xA4 && namestring(a, pos + 1, lim, scope, name, single, next);
}

/* Method (_PRT) { If (F) { Return (A) } Else { Return (P) } } and the like (aml_prt.h): which
 * Package name APIC mode returns (*pick), with F checked against what \_PIC sets. */
static int read_method(struct aml *a, const struct path *mscope, struct path *pick, bool *psingle)
{
    const uint8_t *b = a->b;
    size_t pos = a->at, lim = a->lim, body, pend, next;
    if (b[pos] & 7) return refuse(a, "_PRT is a Method with arguments");
    pos++;
    if (pos < lim && b[pos] == 0xA4) { // Return (X) alone
        if (!read_return(a, pos, lim, mscope, pick, psingle, &next) || next != lim)
            return refuse(a, "_PRT is a Method that computes the table (needs an AML interpreter)");
        return 0;
    }
    if (pos >= lim || b[pos] != 0xA0 || !pkglen(a, pos + 1, lim, &body, &pend))
        return refuse(a, "_PRT is a Method that computes the table (needs an AML interpreter)");
    struct path flag, r1, r2;
    bool fsingle, s1, s2, apic_in_if;
    uint64_t v;
    size_t c = body;
    if (c < pend && b[c] == 0x93) { // LEqual (F, Zero|One)
        if (!namestring(a, c + 1, pend, mscope, &flag, &fsingle, &c) ||
            !integer(a, c, pend, &v, &c) || v > 1)
            return refuse(a, "_PRT's Method tests something other than the _PIC flag");
        apic_in_if = v == 1;
    } else if (c < pend && b[c] == 0x92) { // LNot (F)
        if (!namestring(a, c + 1, pend, mscope, &flag, &fsingle, &c))
            return refuse(a, "_PRT's Method tests something other than the _PIC flag");
        apic_in_if = false;
    } else if (c < pend && name_start(b[c])) { // If (F)
        if (!namestring(a, c, pend, mscope, &flag, &fsingle, &c))
            return refuse(a, "_PRT's Method tests something other than the _PIC flag");
        apic_in_if = true;
    } else return refuse(a, "_PRT's Method tests something other than the _PIC flag");
    if (!read_return(a, c, pend, mscope, &r1, &s1, &next) || next != pend)
        return refuse(a, "_PRT's Method does more than return a Package");
    pos = pend;
    if (pos < lim && b[pos] == 0xA1) { // Else { Return (P) }
        if (!pkglen(a, pos + 1, lim, &body, &pend) ||
            !read_return(a, body, pend, mscope, &r2, &s2, &next) || next != pend)
            return refuse(a, "_PRT's Method does more than return a Package");
        pos = pend;
    } else if (!read_return(a, pos, lim, mscope, &r2, &s2, &pos))
        return refuse(a, "_PRT's Method does more than return a Package");
    if (pos != lim) return refuse(a, "_PRT's Method does more than return a Package");
    *pick = apic_in_if ? r1 : r2;
    *psingle = apic_in_if ? s1 : s2;

    // The flag must be the one \_PIC sets from its argument (Method (_PIC, 1) { F = Arg0 }):
    // an OS routing through the IO-APIC calls _PIC (1) (5.8.1), which selects the APIC table.
    struct path fdecl, pic = {1, {le32((const uint8_t *)"_PIC")}}, picf, pdecl;
    if (resolve(a, mscope, &flag, fsingle, &fdecl) != K_NAME)
        return refuse(a, "_PRT's Method tests something other than the _PIC flag");
    if (find(a, &pic) != K_METHOD || (b[a->at] & 7) != 1 || a->lim - a->at < 3 ||
        b[a->at + 1] != 0x70 || b[a->at + 2] != 0x68 ||
        !namestring(a, a->at + 3, a->lim, &pic, &picf, &fsingle, &next) || next != a->lim)
        return refuse(a, "_PRT's Method tests a flag, but \\_PIC is not a plain store of it");
    if (resolve(a, &pic, &picf, fsingle, &pdecl) != K_NAME || !same_path(&pdecl, &fdecl))
        return refuse(a, "_PRT's Method tests something other than the _PIC flag");
    return 0;
}

int prt_read(const void *dsdt, size_t len, struct prt *out, const char **why)
{
    static const char *const forms[] = {
        "Name (_PRT, Package), GSIs",
        "Name (_PRT, Package), link devices with a static _CRS",
        "Method (_PRT) returning the APIC-mode Package, GSIs",
        "Method (_PRT) returning the APIC-mode Package, link devices with a static _CRS",
    };
    struct aml a = {.b = dsdt, .budget = BUDGET};
    out->count = 0;
    out->form = NULL;
    *why = NULL;
    const uint8_t *b = dsdt;
    if (len < HDR_LEN || b[0] != 'D' || b[1] != 'S' || b[2] != 'D' || b[3] != 'T')
        return *why = "no DSDT", -1;
    uint32_t tl = le32(b + 4);
    if (tl < HDR_LEN || tl > len) return *why = "the DSDT's length is wrong", -1;
    uint8_t sum = 0;
    for (uint32_t i = 0; i < tl; i++) sum = (uint8_t)(sum + b[i]);
    if (sum) return *why = "the DSDT's checksum is wrong", -1;
    a.end = tl;

    struct path pci0 = {2, {le32((const uint8_t *)"_SB_"), le32((const uint8_t *)"PCI0")}};
    struct path prt = pci0, pick, decl;
    prt.seg[prt.n++] = le32((const uint8_t *)"_PRT");
    int k = find(&a, &prt), rc, form = 0;
    bool single;
    if (k == K_NAME) rc = read_package(&a, a.at, a.lim, &pci0, out);
    else if (k == K_METHOD) {
        form = 2;
        rc = read_method(&a, &prt, &pick, &single);
        if (!rc && resolve(&a, &prt, &pick, single, &decl) != K_NAME)
            rc = refuse(&a, "the Package _PRT's Method returns is not a Name");
        if (!rc) {
            decl.n--; // the Package's scope: link names in it are looked up from there
            rc = read_package(&a, a.at, a.lim, &decl, out);
        }
    } else rc = refuse(&a, "no \\_SB.PCI0._PRT among the declarations read");
    if (rc) {
        out->count = 0;
        *why = a.why;
        return -1;
    }
    out->form = forms[form + (a.nlinks ? 1 : 0)];
    return 0;
}

const struct prt_entry *prt_lookup(const struct prt *p, unsigned dev, unsigned pin)
{
    for (unsigned i = 0; i < p->count && i < PRT_MAX; i++)
        if (p->e[i].dev == dev && p->e[i].pin + 1u == pin) return &p->e[i];
    return NULL;
}
