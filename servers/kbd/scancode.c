// SPDX-License-Identifier: MIT
// Scancode set 1 to ASCII: the make code of a key is its index in the tables below, its break
// code the same | 0x80; 0xE0 prefixes the keys added with the 101-key keyboard (IBM PC AT
// Technical Reference; the i8042 translates the keyboard's set 2 to set 1 by default).
#include "scancode.h"

#define SC_CTRL   0x1D
#define SC_LSHIFT 0x2A
#define SC_RSHIFT 0x36
#define SC_CAPS   0x3A
#define SC_ENTER  0x1C
#define SC_SLASH  0x35

static const char plain[0x3A] = {
    0,    27,  '1', '2', '3', '4', '5', '6', '7', '8', '9',  '0', '-', '=',  0x7F,
    '\t', 'q', 'w', 'e', 'r', 't', 'y', 'u', 'i', 'o', 'p',  '[', ']', '\r', 0,
    'a',  's', 'd', 'f', 'g', 'h', 'j', 'k', 'l', ';', '\'', '`', 0,   '\\', 'z',
    'x',  'c', 'v', 'b', 'n', 'm', ',', '.', '/', 0,   '*',  0,   ' ',
};
static const char shifted[0x3A] = {
    0,    27,  '!', '@', '#', '$', '%', '^', '&', '*', '(', ')', '_', '+',  0x7F,
    '\t', 'Q', 'W', 'E', 'R', 'T', 'Y', 'U', 'I', 'O', 'P', '{', '}', '\r', 0,
    'A',  'S', 'D', 'F', 'G', 'H', 'J', 'K', 'L', ':', '"', '~', 0,   '|',  'Z',
    'X',  'C', 'V', 'B', 'N', 'M', '<', '>', '?', 0,   '*', 0,   ' ',
};

int kbd_scancode(struct kbd_keys *k, uint8_t code)
{
    if (code == 0xE0) {
        k->e0 = 1;
        return -1;
    }
    uint8_t key = code & 0x7F, down = !(code & 0x80), e0 = k->e0;
    k->e0 = 0;
    if (key == SC_CTRL) { // left Ctrl, or right Ctrl with the prefix
        k->ctrl = down;
        return -1;
    }
    if (e0) { // of the extended keys only keypad Enter and keypad / type a byte
        if (!down) return -1;
        return key == SC_ENTER ? '\r' : key == SC_SLASH ? '/' : -1;
    }
    if (key == SC_LSHIFT || key == SC_RSHIFT) {
        // one bit per shift key: releasing one while the other is held keeps shift on
        k->shift = (uint8_t)((k->shift & ~(key == SC_LSHIFT ? 1 : 2)) |
                             (down ? (key == SC_LSHIFT ? 1 : 2) : 0));
        return -1;
    }
    if (key == SC_CAPS) {
        if (down) k->caps ^= 1;
        return -1;
    }
    if (!down || key >= sizeof(plain) || !plain[key]) return -1;
    char c = k->shift ? shifted[key] : plain[key];
    if (k->caps && c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    else if (k->caps && c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (k->ctrl && ((c >= '@' && c <= '_') || (c >= 'a' && c <= 'z'))) return c & 0x1F;
    return (uint8_t)c;
}
