/* SPDX-License-Identifier: MIT */
/* The console's bitmap font: printable ASCII (0x20..0x7E), 8x16 pixels, bit 7 the leftmost. */
#pragma once
#include <stdint.h>

#define FONT_WIDTH  8
#define FONT_HEIGHT 16
#define FONT_FIRST  0x20
#define FONT_GLYPHS 95

extern const uint8_t font_8x16[FONT_GLYPHS][FONT_HEIGHT];
