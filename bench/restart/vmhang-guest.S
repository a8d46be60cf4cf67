/* SPDX-License-Identifier: MIT */
/* The vm-hang benchmark's guest: vmstall-guest.S for long enough to outlast the 10 hangs of
 * bench/restart/manifest-vmhang.txt (the last at init's 1,000 ms, found some tens of ms later). */
#define DURATION 1150000000
#include "vmstall-guest.S"
