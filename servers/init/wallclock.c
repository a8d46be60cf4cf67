// SPDX-License-Identifier: MIT
// CMOS RTC time to Unix seconds (see wallclock.h).
#include "wallclock.h"

static unsigned from_bcd(uint8_t v, bool binary) { return binary ? v : (v >> 4) * 10 + (v & 15); }

static bool bcd_ok(uint8_t v, bool binary) { return binary || ((v >> 4) < 10 && (v & 15) < 10); }

uint64_t days_from_civil(unsigned year, unsigned month, unsigned day)
{
    // Count from March so that the leap day ends the year (the usual civil-calendar trick).
    unsigned y = month <= 2 ? year - 1 : year, m = month <= 2 ? month + 9 : month - 3;
    unsigned era = y / 400, yoe = y % 400, doy = (153 * m + 2) / 5 + day - 1,
             doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (uint64_t)era * 146097 + doe - 719468; // 719468: days from 0000-03-01 to 1970-01-01
}

bool cmos_to_unix(const struct cmos_time *t, uint64_t *unix_seconds)
{
    bool bin = t->status_b & 4, h24 = t->status_b & 2;
    const uint8_t all[] = {t->sec, t->min, (uint8_t)(t->hour & 0x7F), t->day, t->month, t->year};
    for (unsigned i = 0; i < sizeof(all); i++)
        if (!bcd_ok(all[i], bin)) return false;
    if (t->century && !bcd_ok(t->century, bin)) return false;
    unsigned sec = from_bcd(t->sec, bin), min = from_bcd(t->min, bin),
             hour = from_bcd(t->hour & 0x7F, bin), day = from_bcd(t->day, bin),
             month = from_bcd(t->month, bin), year = from_bcd(t->year, bin);
    if (!h24) { // 12-hour mode: bit 7 is PM, 12 is the first hour of its half
        if (hour < 1 || hour > 12) return false;
        hour = hour % 12 + ((t->hour & 0x80) ? 12 : 0);
    }
    unsigned century = t->century ? from_bcd(t->century, bin) : (year < 70 ? 20 : 19);
    year += century * 100;
    if (sec > 59 || min > 59 || hour > 23 || day < 1 || day > 31 || month < 1 || month > 12 ||
        year < 1970 || year > 9999)
        return false;
    *unix_seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
    return true;
}
