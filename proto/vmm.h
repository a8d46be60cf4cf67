/* SPDX-License-Identifier: MIT */
/* Protocol of a VMM server (servers/vmm): what it can tell a client about its guest. Requests
 * follow the libipc convention: label = operation, w[0] = request id. */
#pragma once

enum vmm_op {
    VMM_STATS = 1, /* -> w[1] timer interrupts delivered, w[2] exits answered, w[3] 1 if the guest
                      was stopped (w[4]: the exit reason that stopped it), w[5] the VMM's instance
                      (1 for the first; a restarted VMM continues the counts of w[1] and w[2]),
                      w[6] exits a restarted VMM answered from its record because its
                      predecessor died after committing them but before replying, w[7] guest
                      time in init's ticks (10 ms each; the guest's timer runs on it) */
};

#define VMM_STATS_WORDS 8
