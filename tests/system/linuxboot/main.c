// SPDX-License-Identifier: MIT
// bootcheck: a test guest that stands in for Linux. Started by init's loader through the 32-bit
// boot protocol (servers/init/linux_boot.h), it prints what it was given — registers, segments,
// GDT, zero page, command line, initrd, e820 map — for tests/system/linuxboot to compare.
#include <stdint.h>
#include "../../../guests/common/console.h"

extern uint32_t entry_regs[10]; /* esi ebx ebp edi eflags cs ds es ss cr0 (entry.S) */
extern uint8_t entry_gdtr[8];

#define INITRD_HEADER 32 /* mkbzimage.py: a text line, then the pattern (i * 13 + 5) & 0xFF */

static uint32_t rd32(uint32_t addr) { return *(volatile const uint32_t *)addr; }
static uint16_t rd16(uint32_t addr) { return *(volatile const uint16_t *)addr; }
static uint8_t rd8(uint32_t addr) { return *(volatile const uint8_t *)addr; }

static void kv(const char *key, unsigned long v)
{
    uart_write(key);
    puthex(v);
}

/* Whether the descriptor at gdt + sel is flat (base 0, limit 4 GiB, G, D) and of the type. */
static int flat(uint32_t gdt, unsigned sel, unsigned type)
{
    uint32_t lo = rd32(gdt + sel), hi = rd32(gdt + sel + 4);
    return lo == 0x0000FFFF && (hi & 0xFFCF9E00u) == (0x00CF9000u | (type << 8));
}

/* Prints at most max characters of the string at addr. */
static void put_string(uint32_t addr, unsigned max)
{
    for (unsigned i = 0; i < max && rd8(addr + i); i++) uart_putc((char)rd8(addr + i));
}

static void initrd(uint32_t zp)
{
    uint32_t at = rd32(zp + 0x218), size = rd32(zp + 0x21C);
    kv("bootcheck: initrd at ", at);
    uart_write(", ");
    putdec(size);
    uart_write(" bytes: '");
    for (unsigned i = 0; i < INITRD_HEADER && rd8(at + i) != '\n'; i++)
        uart_putc((char)rd8(at + i));
    uint32_t bad = 0;
    for (uint32_t i = INITRD_HEADER; i < size; i++)
        if (rd8(at + i) != (uint8_t)(i * 13 + 5)) bad++;
    uart_write(bad ? "', pattern BAD\n" : "', pattern ok\n");
}

static void e820(uint32_t zp)
{
    unsigned n = rd8(zp + 0x1E8);
    uart_write("bootcheck: e820");
    for (unsigned i = 0; i < n && i < 8; i++) {
        uint32_t e = zp + 0x2D0 + 20 * i;
        // everything lies below 4 GiB: the high words must be 0
        kv(" ", rd32(e));
        kv("+", rd32(e + 8));
        kv(" type ", rd32(e + 16));
        if (rd32(e + 4) || rd32(e + 12)) uart_write(" (above 4 GiB!)");
    }
    uart_write("\n");
}

void bootcheck_main(void)
{
    const uint32_t *r = entry_regs;
    uint32_t zp = r[0];
    kv("bootcheck: esi ", r[0]);
    kv(" ebx ", r[1]);
    kv(" ebp ", r[2]);
    kv(" edi ", r[3]);
    kv(" eflags ", r[4]);
    uart_write("\n");
    kv("bootcheck: cs ", r[5]);
    kv(" ds ", r[6]);
    kv(" es ", r[7]);
    kv(" ss ", r[8]);
    uart_write((r[9] & 1) ? " protected mode" : " real mode");
    uart_write((r[9] & 0x80000000u) ? ", paging\n" : ", no paging\n");
    uint32_t gdt =
        entry_gdtr[2] | entry_gdtr[3] << 8 | entry_gdtr[4] << 16 | (uint32_t)entry_gdtr[5] << 24;
    kv("bootcheck: gdt ", gdt);
    kv(" limit ", (uint32_t)(entry_gdtr[0] | entry_gdtr[1] << 8));
    uart_write(flat(gdt, 0x10, 0xA) ? ", 0x10 flat code" : ", 0x10 NOT flat code");
    uart_write(flat(gdt, 0x18, 0x2) ? ", 0x18 flat data\n" : ", 0x18 NOT flat data\n");
    uart_write("bootcheck: zero page ");
    uart_write(rd32(zp + 0x202) == 0x53726448 ? "HdrS" : "no HdrS");
    kv(" version ", rd16(zp + 0x206));
    kv(" loader ", rd8(zp + 0x210));
    kv(" loadflags ", rd8(zp + 0x211));
    kv(" heap_end ", rd16(zp + 0x224));
    kv(" code32 ", rd32(zp + 0x214));
    uart_write("\n");
    kv("bootcheck: cmdline at ", rd32(zp + 0x228));
    uart_write(": '");
    put_string(rd32(zp + 0x228), 200);
    uart_write("'\n");
    initrd(zp);
    e820(zp);
    uart_write("bootcheck: done\n");
}
