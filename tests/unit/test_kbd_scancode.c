// SPDX-License-Identifier: MIT
// The keyboard driver's scancode set 1 translation (servers/kbd/scancode.c): make codes type,
// break codes (| 0x80) do not; Shift, Caps Lock and Ctrl; the 0xE0 prefix; any byte sequence is
// harmless (IBM PC AT Technical Reference, scancode set 1).
#include <criterion/criterion.h>
#include "../../servers/kbd/scancode.h"

/* Presses and releases the key with make code `make`; returns what the press typed. */
static int tap(struct kbd_keys *k, uint8_t make)
{
    int c = kbd_scancode(k, make);
    cr_assert_eq(kbd_scancode(k, (uint8_t)(make | 0x80)), -1, "a release types nothing");
    return c;
}

Test(kbd_scancode, letters_digits_enter_backspace)
{
    struct kbd_keys k = {0};
    cr_assert_eq(tap(&k, 0x23), 'h');
    cr_assert_eq(tap(&k, 0x12), 'e');
    cr_assert_eq(tap(&k, 0x26), 'l');
    cr_assert_eq(tap(&k, 0x19), 'p');
    cr_assert_eq(tap(&k, 0x02), '1');
    cr_assert_eq(tap(&k, 0x0B), '0');
    cr_assert_eq(tap(&k, 0x39), ' ');
    cr_assert_eq(tap(&k, 0x1C), '\r', "Enter types CR, as a terminal does");
    cr_assert_eq(tap(&k, 0x0E), 0x7F, "Backspace types DEL");
    cr_assert_eq(tap(&k, 0x2B), '\\');
    cr_assert_eq(tap(&k, 0x3B), -1, "F1 types nothing");
}

Test(kbd_scancode, shift_either_key_and_caps_lock)
{
    struct kbd_keys k = {0};
    kbd_scancode(&k, 0x2A); // left shift down
    cr_assert_eq(tap(&k, 0x1E), 'A');
    cr_assert_eq(tap(&k, 0x02), '!');
    kbd_scancode(&k, 0x36); // right shift down too
    kbd_scancode(&k, 0xAA); // left up: right still held
    cr_assert_eq(tap(&k, 0x0C), '_');
    kbd_scancode(&k, 0xB6); // right up
    cr_assert_eq(tap(&k, 0x0C), '-');
    tap(&k, 0x3A); // caps lock on
    cr_assert_eq(tap(&k, 0x1E), 'A');
    cr_assert_eq(tap(&k, 0x02), '1', "caps lock leaves digits alone");
    kbd_scancode(&k, 0x2A);
    cr_assert_eq(tap(&k, 0x1E), 'a', "shift with caps lock gives lower case");
    kbd_scancode(&k, 0xAA);
    tap(&k, 0x3A); // caps lock off
    cr_assert_eq(tap(&k, 0x1E), 'a');
}

Test(kbd_scancode, ctrl_and_extended_keys)
{
    struct kbd_keys k = {0};
    kbd_scancode(&k, 0x1D); // ctrl down
    cr_assert_eq(tap(&k, 0x2E), 0x03, "Ctrl-C");
    cr_assert_eq(tap(&k, 0x1B), 0x1D, "Ctrl-] (init's shell: back from a guest)");
    kbd_scancode(&k, 0x9D);
    cr_assert_eq(tap(&k, 0x2E), 'c');
    // right ctrl is E0 1D
    kbd_scancode(&k, 0xE0);
    kbd_scancode(&k, 0x1D);
    cr_assert_eq(tap(&k, 0x2E), 0x03);
    kbd_scancode(&k, 0xE0);
    kbd_scancode(&k, 0x9D);
    cr_assert_eq(tap(&k, 0x2E), 'c');
    // keypad Enter and / type; an arrow (E0 48) does not, nor does its 0x48 look like keypad 8
    cr_assert_eq(kbd_scancode(&k, 0xE0), -1);
    cr_assert_eq(kbd_scancode(&k, 0x1C), '\r');
    cr_assert_eq(kbd_scancode(&k, 0xE0), -1);
    cr_assert_eq(kbd_scancode(&k, 0x35), '/');
    cr_assert_eq(kbd_scancode(&k, 0xE0), -1);
    cr_assert_eq(kbd_scancode(&k, 0x48), -1);
    cr_assert_eq(kbd_scancode(&k, 0xE0), -1);
    cr_assert_eq(kbd_scancode(&k, 0xC8), -1);
    cr_assert_eq(tap(&k, 0x10), 'q', "the prefix applies to one code only");
}

Test(kbd_scancode, any_byte_sequence_is_harmless)
{
    struct kbd_keys k = {0};
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; // xorshift64
        int c = kbd_scancode(&k, (uint8_t)x);
        cr_assert(c == -1 || (c >= 0 && c < 0x80), "byte %d out of ASCII", c);
        cr_assert(k.shift <= 3 && k.ctrl <= 1 && k.caps <= 1 && k.e0 <= 1);
    }
}
