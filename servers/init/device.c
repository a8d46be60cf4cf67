// SPDX-License-Identifier: MIT
// Device handoff: PCI discovery through configuration space (init alone holds ports 0xCF8-0xCFF),
// and the objects init makes and keeps for drivers and channels: I/O port range, IRQ handler,
// DMA memory, channel memory. A driver gets only its own device; no IOMMU confines its DMA.
#include "device.h"
#include "pci.h"
#include "aml_prt.h"
#include "proto/init.h"

#define INFO_VADDR_BASE  0x0000400100000000ul /* init's mappings of the info pages */
#define WATCH_VADDR_BASE 0x0000400200000000ul /* init's read-only view of the channels' rings */
#define MAX_PAGES        256

struct chan_obj {
    rs_cptr_t frames[MAX_PAGES];
    unsigned pages;
    uint64_t paddr;
    int client, server;             /* server indices */
    unsigned client_k, server_k;    /* the channel's index at each end */
    const volatile uint32_t *watch; /* init's view of its ring pages (libipc/channel.h), or NULL */
    uint32_t seen_tail[2];          /* each ring's tail when device_owed last looked */
};

struct grant {
    bool used;
    rs_cptr_t info_frame, ioport, irq;
    rs_cptr_t ioport_ctl, ioport_bm; /* an ATA channel's control port and bus master */
    ipc_device_info_t *info;
    rs_cptr_t dma[MAX_PAGES];
    unsigned dma_pages;
    rs_cptr_t bar_frames[IPC_MAX_BARS]; /* first of bar_pages[k] consecutive frame slots */
    unsigned bar_pages[IPC_MAX_BARS];
    unsigned nchan;
    unsigned chan[IPC_MAX_CHANNELS]; /* indices into chans */
};

static struct grant grants[MANIFEST_SERVERS];
static struct chan_obj chans[MANIFEST_CHANNELS];
static struct pci_device devs[PCI_MAX_DEVICES];
static unsigned ndevs;
static bool claimed[PCI_MAX_DEVICES];
#define IRQ_LINES 256 /* ISA IRQs 0-15, then GSIs (the kernel has as many as its IO-APICs' pins) */
static const char *line_owner[IRQ_LINES]; /* the driver each IRQ line was given to first */
static bool line_pci[IRQ_LINES]; /* ... and whether all its holders are PCI INTx (shareable) */
static rs_cptr_t cfg_port;
static struct prt prt; /* \_SB.PCI0._PRT from the DSDT (aml_prt.h); count 0: not usable */

/* Pieces of device untyped not used yet (kernel: the gaps of the memory map below 4 GiB). A
 * BAR's frames come from a piece split in halves (device untyped may be retyped into untyped)
 * until one is exactly the BAR (a BAR is naturally aligned to its power-of-two size, PCI 3.0
 * 6.2.5.1); the other halves stay here for other BARs. */
#define MAX_PIECES 96
static struct piece {
    rs_cptr_t cap;
    uint64_t paddr;
    unsigned bits;
} pieces[MAX_PIECES];
static unsigned npieces;

static void pieces_init(void)
{
    const rs_bootinfo_t *bi = init.bi;
    for (rs_cptr_t c = bi->untyped.start; c < bi->untyped.end && npieces < MAX_PIECES; c++) {
        const rs_untyped_desc_t *d = &bi->untyped_list[c - bi->untyped.start];
        if (d->is_device) pieces[npieces++] = (struct piece){c, d->paddr, d->size_bits};
    }
}

/* An untyped cap over exactly [pa, pa + 2^bits) (pa aligned), or 0: RS_NOT_FOUND if no device
 * untyped covers it, else the kernel's error. */
static int device_untyped_at(uint64_t pa, unsigned bits, rs_cptr_t *out)
{
    unsigned i = 0;
    while (i < npieces && !(pa >= pieces[i].paddr &&
                            pa + (1ul << bits) <= pieces[i].paddr + (1ul << pieces[i].bits)))
        i++;
    if (i == npieces) return RS_NOT_FOUND;
    while (pieces[i].bits > bits) {
        if (npieces >= MAX_PIECES) return RS_NOT_ENOUGH_MEMORY;
        rs_cptr_t halves = ps_slot_alloc_range(init.root.env.slots, 2);
        if (!halves) return RS_NOT_ENOUGH_MEMORY;
        struct piece p = pieces[i];
        int err =
            ps_untyped_retype(p.cap, RS_INIT_CNODE, RS_OBJ_UNTYPED, p.bits - 1, 0, 0, halves, 2);
        if (err) return err;
        uint64_t half = 1ul << (p.bits - 1);
        bool high = pa >= p.paddr + half;
        pieces[i] = (struct piece){halves + high, p.paddr + (high ? half : 0), p.bits - 1};
        pieces[npieces++] = (struct piece){halves + !high, p.paddr + (high ? 0 : half), p.bits - 1};
    }
    *out = pieces[i].cap;
    pieces[i] = pieces[--npieces]; // all of it goes to the BAR
    return RS_OK;
}

/* Frames over memory BAR b of d for grant g (consecutive slots), recorded in info->bar[b]. A BAR
 * that no device untyped covers, or that is larger than IPC_BAR_MAX_SIZE, is logged and left
 * unmapped (info->bar[b].mapped 0); only a kernel error is returned. */
static int map_bar(struct server *s, struct grant *g, const struct pci_device *d, unsigned b)
{
    const struct pci_bar *bar = &d->bar[b];
    ipc_bar_info_t *bi = &g->info->bar[b];
    bi->paddr = bar->base, bi->size = bar->size;
    if (bar->base + bar->size > (1ul << 32) || bar->size > IPC_BAR_MAX_SIZE ||
        (bar->size & (bar->size - 1)) || (bar->base & (bar->size - 1))) {
        init_log("%s: BAR%u %lx+%lx: not mapped (above 4 GiB, over %lu KiB, or misaligned)\n",
                 s->m->name, b, bar->base, bar->size, IPC_BAR_MAX_SIZE >> 10);
        return RS_OK;
    }
    unsigned bits = 12;
    while ((1ul << bits) < bar->size) bits++;
    rs_cptr_t ut;
    int err = device_untyped_at(bar->base & ~((1ul << bits) - 1), bits, &ut);
    if (err == RS_NOT_FOUND) {
        init_log("%s: BAR%u %lx+%lx: outside every device untyped, not mapped\n", s->m->name, b,
                 bar->base, bar->size);
        return RS_OK;
    }
    if (err) return err;
    unsigned pages = 1u << (bits - 12);
    rs_cptr_t frames = ps_slot_alloc_range(init.root.env.slots, pages);
    if (!frames) return RS_NOT_ENOUGH_MEMORY;
    if ((err = ps_untyped_retype(ut, RS_INIT_CNODE, RS_OBJ_FRAME, 0, 0, 0, frames, pages)))
        return err;
    uint64_t pa = 0;
    if ((err = ps_frame_get_address(frames, &pa))) return err;
    if (pa != bar->base) return RS_ALIGNMENT_ERROR; // the split is wrong: never map another's
    g->bar_frames[b] = frames, g->bar_pages[b] = pages;
    bi->mapped = (uint64_t)pages << 12;
    init_log("%s: BAR%u %lx+%lx mapped at %lx (uncached)\n", s->m->name, b, bar->base, bar->size,
             IPC_DEVICE_BAR_VADDR(b));
    return RS_OK;
}

static uint32_t cfg_read(void *ctx, unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
    uint32_t v = 0xFFFFFFFFu;
    if (ps_ioport_out(cfg_port, 4, 0xCF8, pci_cf8(bus, dev, fn, off)) ||
        ps_ioport_in(cfg_port, 4, 0xCFC, &v))
        return 0xFFFFFFFFu;
    return v;
}

static void cfg_write(void *ctx, unsigned bus, unsigned dev, unsigned fn, unsigned off, uint32_t v)
{
    if (!ps_ioport_out(cfg_port, 4, 0xCF8, pci_cf8(bus, dev, fn, off)))
        ps_ioport_out(cfg_port, 4, 0xCFC, v);
}

static const struct pci_ops cfg_ops = {cfg_read, cfg_write, NULL};

/* `pages` frames of physically contiguous memory: the frames are made one after the other from
 * a fresh untyped, where the kernel places objects back to back; checked, not assumed. */
static int contiguous_frames(unsigned pages, rs_cptr_t *frames, uint64_t *paddr)
{
    unsigned bits = 12;
    while ((1u << (bits - 12)) < pages) bits++;
    ps_ut_t ua;
    ps_untyped_t storage;
    rs_cptr_t ut;
    int err = ps_new_untyped(&init.root.env, bits, &ua, &storage, &ut);
    if (err) return err;
    ps_env_t env = init.root.env;
    env.ut = &ua;
    for (unsigned i = 0; i < pages; i++) {
        uint64_t pa = 0;
        if ((err = ps_new_object(&env, RS_OBJ_FRAME, 0, &frames[i])) ||
            (err = ps_frame_get_address(frames[i], &pa)))
            return err;
        if (i == 0) *paddr = pa;
        else if (pa != *paddr + i * 4096ul) return RS_ALIGNMENT_ERROR;
    }
    return RS_OK;
}

static struct grant *grant_of(unsigned index)
{
    struct grant *g = &grants[index];
    if (g->used) return g;
    uint64_t va = INFO_VADDR_BASE + index * 4096ul;
    int err = ps_map_new_frame(&init.root.env, RS_INIT_VSPACE, va, RS_RIGHT_READ | RS_RIGHT_WRITE,
                               &g->info_frame);
    if (err) return NULL;
    g->used = true;
    g->info = (ipc_device_info_t *)va;
    g->info->magic = IPC_DEVICE_MAGIC;
    g->info->irq = 0xFF;
    return g;
}

static void give_up(struct server *s, const char *what, int err)
{
    init_log("%s: %s: %s; not starting it\n", s->m->name, what, rs_error_name(err));
    s->given_up = true;
}

/* IRQ line `line` of a PC's legacy PIC for grant g, signalling s's ping notification. `pci`: the
 * device's PCI INTx pin is wired to the line. PCI interrupts are level-triggered and shareable
 * (PCI Local Bus Specification 3.0, 2.2.6), so several PCI drivers may hold one line (the kernel
 * signals each and unmasks the line once all have acknowledged); an ISA device's edge-triggered
 * line (ATA compatibility mode's IRQ 14) is given to one driver only. */
static int grant_irq(struct server *s, struct grant *g, unsigned line, bool pci)
{
    if (line >= IRQ_LINES) return RS_RANGE_ERROR;
    if (line_owner[line] && !(pci && line_pci[line])) {
        init_log("%s: IRQ %u belongs to %s already (not shareable)\n", s->m->name, line,
                 line_owner[line]);
        return RS_BUSY;
    }
    if (!g->irq) g->irq = ps_slot_alloc(init.root.env.slots);
    int err = ps_irq_control_get(RS_INIT_IRQ_CONTROL, line, RS_INIT_CNODE, g->irq, 64);
    if (err) return err; // the kernel has no such line (e.g. a GSI under the 8259): caller decides
    if (line_owner[line])
        init_log("%s: IRQ %u shared with %s\n", s->m->name, line, line_owner[line]);
    else line_owner[line] = s->m->name, line_pci[line] = pci;
    rs_cptr_t badged = ps_slot_alloc(init.root.env.slots);
    if ((err = ps_cnode_mint(RS_INIT_CNODE, badged, 64, RS_INIT_CNODE, s->ping, 64, RS_RIGHT_WRITE,
                             IPC_BADGE_IRQ)) ||
        (err = ps_irq_handler_set_notification(g->irq, badged)))
        return err;
    g->info->irq = (uint8_t)line;
    return RS_OK;
}

/* A PCI function's INTx: the GSI _PRT names for its (slot, pin) on bus 0, else (no usable _PRT,
 * no entry, a bridge's bus: swizzling is not done, or a GSI the kernel refuses) the Interrupt
 * Line the firmware wrote, an ISA IRQ. Logs the routing. */
static int grant_pci_irq(struct server *s, struct grant *g, const struct pci_device *d)
{
#define PCI_PFX      "pci %02x:%02x.%x INT%c"
#define PCI_PFX_ARGS d->bus, d->dev, d->fn, "?ABCD"[d->irq_pin <= 4 ? d->irq_pin : 0]
    const struct prt_entry *e =
        d->bus == 0 && prt.count ? prt_lookup(&prt, d->dev, d->irq_pin) : NULL;
    if (e) {
        int err = e->gsi < IRQ_LINES ? grant_irq(s, g, e->gsi, true) : RS_RANGE_ERROR;
        if (!err) {
            init_log(PCI_PFX " -> GSI %u (_PRT)\n", PCI_PFX_ARGS, e->gsi);
            return RS_OK;
        }
        if (err != RS_RANGE_ERROR && err != RS_INVALID_ARGUMENT) return err;
        init_log(PCI_PFX ": _PRT's GSI %u refused by the kernel (%s): using the Interrupt Line\n",
                 PCI_PFX_ARGS, e->gsi, rs_error_name(err));
    }
    // a PC's legacy PIC lines: 0 and 2 are not a device's (timer, cascade), 0xFF is "none"
    if (!d->irq_line || d->irq_line >= 16 || d->irq_line == 2) {
        init_log(PCI_PFX " -> none (Interrupt Line %u)\n", PCI_PFX_ARGS, d->irq_line);
        return RS_OK;
    }
    init_log(PCI_PFX " -> IRQ %u (Interrupt Line%s)\n", PCI_PFX_ARGS, d->irq_line,
             !prt.count ? ", no usable _PRT"
             : d->bus   ? ", behind a bridge"
             : e        ? ""
                        : ", not in _PRT");
    return grant_irq(s, g, d->irq_line, true);
#undef PCI_PFX
#undef PCI_PFX_ARGS
}

/* Ports first..last in a fresh slot *cap (the ordinary control: never a platform range). */
static int grant_ports(uint64_t first, uint64_t last, rs_cptr_t *cap)
{
    *cap = ps_slot_alloc(init.root.env.slots);
    if (!*cap) return RS_NOT_ENOUGH_MEMORY;
    return ps_ioport_issue(RS_INIT_IOPORT_CONTROL, (uint16_t)first, (uint16_t)last, RS_INIT_CNODE,
                           *cap, 64);
}

/* A PCI IDE controller (class 01:01) gives its primary channel (PCI IDE Controller Specification
 * 1.0, 2.1: programming interface bit 0 clear = compatibility mode, the ISA ports 0x1F0-0x1F7 and
 * 0x3F6 and ISA IRQ 14; set = native mode, BAR0 the command block, BAR1 the control block (its
 * port 2), the function's own interrupt line) and the channel's half of the bus-master block
 * (BAR4's first 8 ports; Intel PIIX4 datasheet 2.7). */
static bool is_ide(const struct pci_device *d) { return d->class_code == 1 && d->subclass == 1; }
static int grant_ata(struct server *s, struct grant *g, const struct pci_device *d)
{
    bool native = d->prog_if & 1;
    if (native && (!d->bar[0].io || !d->bar[1].io || d->bar[0].size < 8 || d->bar[1].size < 4))
        return RS_NOT_SUPPORTED;
    uint64_t cmd = native ? d->bar[0].base : 0x1F0, ctl = native ? d->bar[1].base + 2 : 0x3F6;
    unsigned line = native ? d->irq_line : 14;
    int err;
    if ((err = grant_ports(cmd, cmd + 7, &g->ioport)) ||
        (err = grant_ports(ctl, ctl, &g->ioport_ctl)))
        return err;
    g->info->io_base = cmd, g->info->io_size = 8, g->info->ctl_port = ctl;
    const struct pci_bar *bm = &d->bar[4];
    if (bm->io && bm->size >= 8 && bm->base) {
        if ((err = grant_ports(bm->base, bm->base + 7, &g->ioport_bm))) return err;
        g->info->bm_base = bm->base;
    }
    if (!line || line >= 16 || line == 2) return RS_NOT_SUPPORTED;
    return grant_irq(s, g, line, native);
}

/* Claims the first unclaimed device matching s's device= for server index i ("ata": the first
 * IDE controller). */
static int claim_device(struct server *s, unsigned i)
{
    uint16_t vendor = 0, device = 0;
    bool ata = !strcmp(s->m->device, "ata");
    if (!ata && pci_parse_spec(s->m->device, &vendor, &device)) return RS_INVALID_ARGUMENT;
    unsigned k = 0;
    while (k < ndevs &&
           (claimed[k] ||
            (ata ? !is_ide(&devs[k]) : devs[k].vendor != vendor || devs[k].device != device)))
        k++;
    if (k == ndevs) return RS_NOT_FOUND;
    struct pci_device *d = &devs[k];
    struct grant *g = grant_of(i);
    if (!g) return RS_NOT_ENOUGH_MEMORY;
    claimed[k] = true;
    pci_enable(&cfg_ops, d);
    ipc_device_info_t *info = g->info;
    info->vendor = d->vendor, info->device = d->device;
    info->bus = d->bus, info->dev = d->dev, info->fn = d->fn;
    int err;
    if (is_ide(d) && (err = grant_ata(s, g, d))) return err;
    for (unsigned b = 0; b < PCI_BARS && !is_ide(d); b++) {
        const struct pci_bar *bar = &d->bar[b];
        if (!bar->io || !bar->size || info->io_size) continue;
        g->ioport = ps_slot_alloc(init.root.env.slots);
        if ((err = ps_ioport_issue(RS_INIT_IOPORT_CONTROL, (uint16_t)bar->base,
                                   (uint16_t)(bar->base + bar->size - 1), RS_INIT_CNODE, g->ioport,
                                   64)))
            return err;
        info->io_base = bar->base;
        info->io_size = bar->size;
    }
    for (unsigned b = 0; b < PCI_BARS && b < IPC_MAX_BARS; b++)
        if (!d->bar[b].io && d->bar[b].size && (err = map_bar(s, g, d, b))) return err;
    if (!is_ide(d) && d->irq_pin && (err = grant_pci_irq(s, g, d))) return err;
    g->dma_pages = s->m->dma_pages;
    if ((err = contiguous_frames(g->dma_pages, g->dma, &info->dma_paddr))) return err;
    info->dma_size = g->dma_pages * 4096ul;
    init_log("%s: device %x:%x at %u:%u.%u, I/O %lx+%lu, IRQ %u, DMA %lx+%lu\n", s->m->name,
             d->vendor, d->device, d->bus, d->dev, d->fn, info->io_base, info->io_size, info->irq,
             info->dma_paddr, info->dma_size);
    if (is_ide(d))
        init_log("%s: ATA channel: control port %lx, bus master %lx\n", s->m->name, info->ctl_port,
                 info->bm_base);
    return RS_OK;
}

static int make_channel(unsigned c)
{
    const struct manifest_channel *mc = &init.manifest.channels[c];
    struct chan_obj *ch = &chans[c];
    ch->client = manifest_find(&init.manifest, mc->client);
    ch->server = manifest_find(&init.manifest, mc->server);
    ch->pages = mc->pages;
    int err = contiguous_frames(ch->pages, ch->frames, &ch->paddr);
    if (err) return err;
    int ends[2] = {ch->client, ch->server};
    for (unsigned e = 0; e < 2; e++) {
        struct grant *g = grant_of((unsigned)ends[e]);
        if (!g) return RS_NOT_ENOUGH_MEMORY;
        unsigned k = g->nchan++;
        g->chan[k] = c;
        *(e ? &ch->server_k : &ch->client_k) = k;
        ipc_channel_info_t *ci = &g->info->channel[k];
        memcpy(ci->name, mc->name, sizeof(ci->name));
        ci->role = e ? IPC_CHANNEL_SERVER : IPC_CHANNEL_CLIENT;
        ci->peer = (uint32_t)(e ? ch->client : ch->server) + 1; // its badge at a service
        ci->size = ch->pages * 4096ul;
        ci->data_size = ci->size - 0x2000; // CHAN_DATA_OFFSET: two ring pages first
        ci->paddr = ch->paddr;
        g->info->nchannels = g->nchan;
    }
    init_log("channel %s: %s -> %s, %u pages at %lx\n", mc->name, mc->client, mc->server, ch->pages,
             ch->paddr);
    return RS_OK;
}

/* Maps the channel's two ring pages read-only into init, so that its tick can see requests and
 * completions left unanswered (device_owed). Without them, only the watchdog finds a hung end. */
static void watch_channel(unsigned c)
{
    struct chan_obj *ch = &chans[c];
    ps_env_t *env = &init.root.env;
    uint64_t va = WATCH_VADDR_BASE + c * 0x2000ul;
    for (unsigned i = 0; i < 2; i++) {
        rs_cptr_t copy = ps_slot_alloc(env->slots);
        int err = copy ? ps_cnode_copy(RS_INIT_CNODE, copy, 64, RS_INIT_CNODE, ch->frames[i], 64)
                       : RS_NOT_ENOUGH_MEMORY;
        if (!err)
            err = ps_map_frame(env, RS_INIT_VSPACE, copy, va + i * 4096ul, RS_RIGHT_READ,
                               RS_ATTR_DEFAULT);
        if (err) {
            init_log("channel %s: not watched: %s\n", init.manifest.channels[c].name,
                     rs_error_name(err));
            return;
        }
    }
    ch->watch = (const volatile uint32_t *)va;
}

/* Whether ring r (0: requests, 1: completions) of channel ch holds entries and its consumer did
 * not move since the last look. */
static bool ring_stuck(struct chan_obj *ch, unsigned r)
{
    // head at +0, tail at +0x40 of each ring; requests at 0, completions at 0x1000
    const volatile uint32_t *ring = ch->watch + r * (0x1000 / 4);
    uint32_t head = ring[0], tail = ring[0x40 / 4];
    bool moved = tail != ch->seen_tail[r];
    ch->seen_tail[r] = tail;
    return head != tail && !moved;
}

unsigned device_owed(unsigned index)
{
    unsigned owed = 0;
    for (unsigned c = 0; c < init.manifest.nchannels; c++) {
        struct chan_obj *ch = &chans[c];
        if (!ch->watch) continue;
        // a consumer that moves owes nothing yet: it is busy (a flood), not hung
        if (ch->server == (int)index && ring_stuck(ch, 0)) owed++;
        if (ch->client == (int)index && ring_stuck(ch, 1)) owed++;
    }
    return owed;
}

void device_setup(void)
{
    bool any = init.manifest.nchannels > 0;
    for (unsigned i = 0; i < init.nservers; i++) any |= init.servers[i].m->device[0] != 0;
    if (!any) return;
    cfg_port = ps_slot_alloc(init.root.env.slots);
    if (ps_ioport_issue(RS_INIT_IOPORT_PLATFORM, 0xCF8, 0xCFF, RS_INIT_CNODE, cfg_port, 64))
        cfg_port = 0;
    if (cfg_port) ndevs = pci_scan(&cfg_ops, devs, PCI_MAX_DEVICES);
    pieces_init();
    init_log("pci: %u functions\n", ndevs);
    const char *why = "no DSDT from the kernel (no ACPI, or a broken or too long one)";
    if (init.bi->acpi_dsdt_size &&
        !prt_read((const void *)init.bi->acpi_dsdt_vaddr, init.bi->acpi_dsdt_size, &prt, &why))
        init_log("pci: _PRT: %s, %u entries\n", prt.form, prt.count);
    else init_log("pci: _PRT not used: %s; PCI devices keep their Interrupt Line\n", why);
    device_list();
    for (unsigned i = 0; i < init.nservers; i++) {
        struct server *s = &init.servers[i];
        if (s->given_up || !s->m->device[0]) continue;
        int err = claim_device(s, i);
        if (err) give_up(s, s->m->device, err);
    }
    for (unsigned c = 0; c < init.manifest.nchannels; c++) {
        int err = make_channel(c);
        if (!err) {
            watch_channel(c);
            continue;
        }
        const struct manifest_channel *mc = &init.manifest.channels[c];
        give_up(&init.servers[manifest_find(&init.manifest, mc->client)], mc->name, err);
        give_up(&init.servers[manifest_find(&init.manifest, mc->server)], mc->name, err);
    }
}

unsigned device_extra_slots(const struct server *s)
{
    const struct grant *g = &grants[s - init.servers];
    if (!g->used) return 0;
    unsigned n = 1 + g->dma_pages;
    for (unsigned b = 0; b < IPC_MAX_BARS; b++) n += g->bar_pages[b];
    for (unsigned k = 0; k < g->nchan; k++) n += chans[g->chan[k]].pages;
    return n;
}

int device_give(struct server *s, ps_process_t *p)
{
    unsigned index = (unsigned)(s - init.servers);
    const struct grant *g = &grants[index];
    if (!g->used) return RS_OK;
    const unsigned rw = RS_RIGHT_READ | RS_RIGHT_WRITE;
    int err = ps_process_share(p, g->info_frame, IPC_DEVICE_INFO_VADDR, RS_RIGHT_READ);
    if (!err && g->ioport) err = ps_process_give(p, IPC_SLOT_IOPORT, g->ioport, RS_RIGHTS_ALL, 0);
    if (!err && g->irq) err = ps_process_give(p, IPC_SLOT_IRQ, g->irq, RS_RIGHTS_ALL, 0);
    if (!err && g->ioport_ctl)
        err = ps_process_give(p, IPC_SLOT_IOPORT_CTL, g->ioport_ctl, RS_RIGHTS_ALL, 0);
    if (!err && g->ioport_bm)
        err = ps_process_give(p, IPC_SLOT_IOPORT_BM, g->ioport_bm, RS_RIGHTS_ALL, 0);
    for (unsigned i = 0; !err && i < g->dma_pages; i++)
        err = ps_process_share(p, g->dma[i], IPC_DMA_VADDR + i * 4096ul, rw);
    for (unsigned b = 0; b < IPC_MAX_BARS; b++)
        for (unsigned i = 0; !err && i < g->bar_pages[b]; i++)
            err =
                ps_process_share(p, g->bar_frames[b] + i, IPC_DEVICE_BAR_VADDR(b) + i * 4096ul, rw);
    for (unsigned k = 0; !err && k < g->nchan; k++) {
        const struct chan_obj *ch = &chans[g->chan[k]];
        for (unsigned i = 0; !err && i < ch->pages; i++)
            err = ps_process_share(p, ch->frames[i], IPC_CHANNEL_VADDR(k) + i * 4096ul, rw);
        // signalling the other end: its ping notification, badged with the channel's index there
        bool client = ch->client == (int)index;
        const struct server *peer = &init.servers[client ? ch->server : ch->client];
        unsigned peer_k = client ? ch->server_k : ch->client_k;
        if (!err)
            err = ps_process_give(p, IPC_SLOT_CHANNEL0 + k, peer->ping, RS_RIGHT_WRITE,
                                  IPC_BADGE_CHANNEL(peer_k));
    }
    return err;
}

void device_list(void)
{
    for (unsigned k = 0; k < ndevs; k++)
        init_log("pci %02x:%02x.%x %04x:%04x class %02x.%02x irq %u%s\n", devs[k].bus, devs[k].dev,
                 devs[k].fn, devs[k].vendor, devs[k].device, devs[k].class_code, devs[k].subclass,
                 devs[k].irq_line, claimed[k] ? " (claimed)" : "");
}
