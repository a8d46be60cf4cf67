// SPDX-License-Identifier: MIT
// The framebuffer console: the loader's linear framebuffer (or EGA text screen) as a text
// terminal in the built-in 8x16 font, with scrolling. The kernel's printing (and so init's
// Console cap writes) comes here as well as to COM1 (printk.c).
//
// The screen is a grid of cells whose characters are kept in `text`; `shown` is what the
// framebuffer holds. Drawing only the cells that differ keeps scrolling cheap where the
// framebuffer is slow (uncached on real machines, emulated MMIO in Bochs), and reading the
// framebuffer back, which is very slow there, is never needed. Scrolling moves a quarter of the
// screen at once for the same reason.
#include "fbcon.h"
#include "font.h"
#include "arch.h"
#include "cpu.h"
#include "pte.h"
#include "../../console.h"
#include "kstring.h"

#define MAX_COLS     240 /* 1920 / 8: a larger screen uses its top-left 1920x1200 */
#define MAX_ROWS     75  /* 1200 / 16 */
#define EARLY_LOG    16384
/* The framebuffer's window: the last GiB of the address space, PML4 511 / PDPT 511 (the kernel
 * image uses PDPT 510). That PDPT is shared by every VSpace, so the mapping is seen in all. */
#define FB_WINDOW    0xFFFFFFFFC0000000ull
#define FB_TYPE_RGB  1
#define FB_TYPE_TEXT 2
#define MSR_PAT      0x277
/* PAT entry 7 (PAT=1 PCD=1 PWT=1; power-on value UC) is made write-combining: the memory type
 * graphics memory wants (Intel SDM vol. 3 11.3, 11.12.2). In a 2 MiB PDE the PAT bit is bit 12
 * (11.12.3); with an MTRR type of UC, as firmware sets for the PCI hole, PAT WC wins (Table 11-7). */
#define PDE_PAT      (1ull << 12)
#define PAT_WC       0x01
#define PAT_ENTRY7   56

static struct fbcon_mode mode;
static enum { FB_UNKNOWN, FB_FOUND, FB_ON, FB_OFF } state;
static uint8_t *fb;
static uint32_t fg, bg;
static unsigned cols, rows, col, row;
static char text[MAX_ROWS][MAX_COLS], shown[MAX_ROWS][MAX_COLS];
static uint64_t window_pd[512] __attribute__((aligned(4096)));
/* What was printed before the framebuffer could be drawn on (the last EARLY_LOG bytes). */
static char early[EARLY_LOG];
static uint64_t early_len;
static bool announce_vga; /* say, at the end of the current line, that the BIOS's screen is used */

/* A colour given as 8-bit r, g, b in the mode's pixel layout. */
static uint32_t pixel(uint8_t r, uint8_t g, uint8_t b)
{
    return ((uint32_t)(r >> (8 - mode.red_size)) << mode.red_pos) |
           ((uint32_t)(g >> (8 - mode.green_size)) << mode.green_pos) |
           ((uint32_t)(b >> (8 - mode.blue_size)) << mode.blue_pos);
}

void fbcon_setup(const struct fbcon_mode *m)
{
    const char *why = NULL;
    if (m->type == FB_TYPE_TEXT) {
        if (!m->width || !m->height) why = "no size";
    } else if (m->type != FB_TYPE_RGB) {
        why = "indexed colours";
    } else if (m->bpp != 32 && m->bpp != 24 && m->bpp != 16) {
        why = "unsupported depth";
    } else if (!m->red_size || m->red_size > 8 || !m->green_size || m->green_size > 8 ||
               !m->blue_size || m->blue_size > 8 || m->width < FONT_WIDTH ||
               m->height < FONT_HEIGHT || m->pitch < m->width * (m->bpp / 8u) ||
               m->red_pos + m->red_size > m->bpp || m->green_pos + m->green_size > m->bpp ||
               m->blue_pos + m->blue_size > m->bpp) {
        why = "inconsistent mode";
    }
    uint64_t span = (m->addr & 0x1FFFFF) + (uint64_t)m->pitch * m->height;
    if (m->type == FB_TYPE_TEXT) span = (m->addr & 0x1FFFFF) + 2ull * m->width * m->height;
    if (!why && span > (1ull << 30)) why = "larger than 1 GiB";
    if (m->type == FB_TYPE_TEXT)
        kprintf("console: EGA text screen %ux%u at %lx%s%s\n", m->width, m->height, m->addr,
                why ? ", not used: " : "", why ? why : "");
    else
        kprintf("console: framebuffer %ux%u, %u bpp, pitch %u at %lx%s%s\n", m->width, m->height,
                m->bpp, m->pitch, m->addr, why ? ", not used: " : "", why ? why : "");
    if (why) {
        if (state == FB_UNKNOWN) state = FB_OFF; // not the BIOS's text screen either
        return;
    }
    if (state != FB_UNKNOWN) return;
    mode = *m;
    state = FB_FOUND;
}

/* Maps the framebuffer write-combining at FB_WINDOW in the kernel's page tables. False if the
 * window's PDPT slot is taken (nothing else should use it). */
static bool map_window(void)
{
    uint64_t *pdpt = PHYS_TO_VIRT(arch_kernel_pml4()[511] & PTE_ADDR);
    if (pdpt[511] & PTE_P) return false;
    uint64_t cache = PTE_PCD | PTE_PWT; // PAT entry 3: UC, the fallback without a PAT
    uint32_t r[4];
    cpuid(1, 0, r);
    if (mode.type == FB_TYPE_RGB && (r[3] & (1u << 16))) { // CPUID.1:EDX.PAT
        uint64_t pat = rdmsr(MSR_PAT);
        pat = (pat & ~(0xFFull << PAT_ENTRY7)) | ((uint64_t)PAT_WC << PAT_ENTRY7);
        wrmsr(MSR_PAT, pat);
        cache |= PDE_PAT;
    }
    uint64_t base = mode.addr & ~0x1FFFFFull;
    uint64_t span =
        (mode.addr - base) + (mode.type == FB_TYPE_TEXT ? 2ull * mode.width * mode.height
                                                        : (uint64_t)mode.pitch * mode.height);
    for (uint64_t off = 0, i = 0; off < span; off += 1ull << 21, i++)
        window_pd[i] = (base + off) | PTE_P | PTE_W | PTE_PS | PTE_G | PTE_NX | cache;
    pdpt[511] = ((uint64_t)(uintptr_t)window_pd - KERNEL_VMA) | PTE_P | PTE_W;
    for (uint64_t off = 0; off < span; off += 1ull << 21) invlpg(FB_WINDOW + off);
    fb = (uint8_t *)(FB_WINDOW + (mode.addr - base));
    return true;
}

static void put_pixel(uint8_t *p, uint32_t v)
{
    switch (mode.bpp) {
    case 32: *(volatile uint32_t *)p = v; break;
    case 24:
        ((volatile uint8_t *)p)[0] = (uint8_t)v;
        ((volatile uint8_t *)p)[1] = (uint8_t)(v >> 8);
        ((volatile uint8_t *)p)[2] = (uint8_t)(v >> 16);
        break;
    default: *(volatile uint16_t *)p = (uint16_t)v; break;
    }
}

/* Draws text[r][c] into its cell and records it as shown. */
static void draw_cell(unsigned r, unsigned c)
{
    char ch = text[r][c];
    shown[r][c] = ch;
    if (mode.type == FB_TYPE_TEXT) {
        ((volatile uint16_t *)fb)[r * mode.width + c] = (uint16_t)(0x0700 | (uint8_t)ch);
        return;
    }
    unsigned bytes = mode.bpp / 8u;
    const uint8_t *g = (uint8_t)ch >= FONT_FIRST && (uint8_t)ch < FONT_FIRST + FONT_GLYPHS
                           ? font_8x16[(uint8_t)ch - FONT_FIRST]
                           : font_8x16[0];
    uint8_t *line = fb + (uint64_t)r * FONT_HEIGHT * mode.pitch + (uint64_t)c * FONT_WIDTH * bytes;
    for (unsigned y = 0; y < FONT_HEIGHT; y++, line += mode.pitch)
        for (unsigned x = 0; x < FONT_WIDTH; x++)
            put_pixel(line + x * bytes, g[y] & (0x80 >> x) ? fg : bg);
}

/* Redraws the cells whose character changed. */
static void refresh(void)
{
    for (unsigned r = 0; r < rows; r++)
        for (unsigned c = 0; c < cols; c++)
            if (text[r][c] != shown[r][c]) draw_cell(r, c);
}

static void newline(void)
{
    col = 0;
    if (++row < rows) return;
    unsigned n = rows >= 8 ? rows / 4 : 1;
    memmove(text[0], text[n], sizeof(text[0]) * (rows - n));
    memset(text[rows - n], ' ', sizeof(text[0]) * n);
    row = rows - n;
    refresh();
}

static void put(char c)
{
    if (c == '\n') newline();
    else if (c == '\r') col = 0;
    else if (c == '\b') col = col ? (col < cols ? col : cols) - 1 : 0;
    else if (c == '\t') col = ((col + 8) & ~7u) < cols ? (col + 8) & ~7u : cols;
    else if ((uint8_t)c >= ' ') {
        if (col >= cols) newline(); // wrap only now: a line of exactly `cols` leaves no blank line
        text[row][col] = (uint8_t)c < FONT_FIRST + FONT_GLYPHS ? c : '?';
        draw_cell(row, col++);
    }
}

/* Without a framebuffer from the loader and without COM1, the VGA text screen the BIOS left: the
 * BIOS data area says video mode 3 (80x25 colour text) or 7 (monochrome) and 80 columns (IBM PC
 * BIOS data area, 0x449 mode, 0x44A columns, 0x484 rows - 1). GRUB keeps it on a BIOS boot
 * (tools/mkiso.sh) and QEMU -kernel leaves it; UEFI firmware fills no BIOS data area. With a
 * COM1 it stays off: Bochs (the VMX tests) runs twice as slow in wall time while the kernel
 * writes its text screen, and a machine with a serial line is driven from there. */
static bool vga_text_left_by_bios(void)
{
    const uint8_t *bda = PHYS_TO_VIRT(0x400);
    uint8_t vmode = bda[0x49], rows = bda[0x84];
    uint16_t columns = (uint16_t)(bda[0x4A] | bda[0x4B] << 8);
    if ((vmode != 3 && vmode != 7) || columns != 80) return false;
    mode = (struct fbcon_mode){.addr = vmode == 7 ? 0xB0000 : 0xB8000,
                               .width = 80,
                               .height = rows >= 24 && rows < 50 ? rows + 1u : 25,
                               .type = FB_TYPE_TEXT};
    return true;
}

/* The first character once the kernel's page tables are in place: map, clear, replay. */
static void start(void)
{
    if (state == FB_UNKNOWN && !serial_present() && vga_text_left_by_bios())
        state = FB_FOUND, announce_vga = true;
    if (state != FB_FOUND || !map_window()) {
        state = FB_OFF;
        return;
    }
    if (mode.type == FB_TYPE_TEXT) {
        cols = mode.width;
        rows = mode.height;
    } else {
        cols = mode.width / FONT_WIDTH;
        rows = mode.height / FONT_HEIGHT;
        fg = pixel(0xAA, 0xAA, 0xAA);
        bg = pixel(0, 0, 0);
        // clear all of it, not only the cells: the margin right and below the grid too
        for (uint32_t y = 0; y < mode.height; y++)
            for (uint32_t x = 0; x < mode.width; x++)
                put_pixel(fb + (uint64_t)y * mode.pitch + x * (mode.bpp / 8u), bg);
    }
    if (cols > MAX_COLS) cols = MAX_COLS;
    if (rows > MAX_ROWS) rows = MAX_ROWS;
    memset(text, ' ', sizeof(text));
    memset(shown, ' ', sizeof(shown));
    if (mode.type == FB_TYPE_TEXT) memset(shown, 0, sizeof(shown)); // force the first draw
    refresh();
    state = FB_ON;
    uint64_t from = early_len > EARLY_LOG ? early_len - EARLY_LOG : 0;
    for (uint64_t i = from; i < early_len; i++) put(early[i % EARLY_LOG]);
}

void fbcon_putc(char c)
{
    if (state == FB_ON) {
        put(c);
        if (c == '\n' && announce_vga) { // after the line: console_putc gave COM1 this '\n' first
            announce_vga = false;
            kprintf("console: VGA text screen %ux%u (BIOS; the loader gave no framebuffer)\n",
                    mode.width, mode.height);
        }
        return;
    }
    if (state == FB_OFF) return;
    if (kernel_cr3) {
        start();
        if (state == FB_ON) put(c);
        return;
    }
    early[early_len++ % EARLY_LOG] = c;
}
