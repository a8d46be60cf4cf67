/* SPDX-License-Identifier: MIT */
/* PC scancode set 1 (what the i8042 delivers with translation on) to bytes, US layout. */
#pragma once
#include <stdint.h>

struct kbd_keys {
    uint8_t shift, ctrl, caps, e0; /* held modifiers, caps lock, an 0xE0 prefix seen */
};

/* Feeds one scancode byte; returns the byte it types (ASCII; Enter '\r', Backspace 0x7F as a
 * terminal sends them, Ctrl+key the control code) or -1 when it types nothing (a release, a
 * modifier, a prefix, a key without a byte). */
int kbd_scancode(struct kbd_keys *k, uint8_t code);
