/* SPDX-License-Identifier: MIT */
/* The framebuffer console: text in the built-in font on the framebuffer the loader handed over. */
#pragma once
#include <stdint.h>

/* What the loader says of its framebuffer (multiboot 1 info bit 12, multiboot2 tag 8). */
struct fbcon_mode {
    uint64_t addr; /* physical */
    uint32_t pitch, width, height;
    uint8_t bpp, type; /* type 1: direct RGB, 2: EGA text (width x height cells) */
    uint8_t red_pos, red_size, green_pos, green_size, blue_pos, blue_size;
};

/* Fills the colour fields from the loader's six bytes: red position, size, green..., blue... */
static inline void fbcon_colours(struct fbcon_mode *m, const uint8_t c[6])
{
    m->red_pos = c[0], m->red_size = c[1], m->green_pos = c[2], m->green_size = c[3];
    m->blue_pos = c[4], m->blue_size = c[5];
}
/* Takes the loader's framebuffer (boot page tables still in place): logs what it is and whether
 * it will be used. The console starts drawing once the kernel's page tables exist (the first
 * character printed after arch_paging_init maps it), and then shows everything printed so far. */
void fbcon_setup(const struct fbcon_mode *m);
/* One character for the screen (buffered until the framebuffer is mapped); no-op without one. */
void fbcon_putc(char c);
