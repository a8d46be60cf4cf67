#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a benchmark under QEMU with -icount shift=0, where rdtsc deltas are exact guest
# instruction counts (repeatable on a busy machine). Prints the `bench:` lines.
# usage: tools/bench.sh [ipc|ipc-pti|restart|vmm-stall|vmm-hang|vmexit|linux|disk|disk-linux|net] [ARGS]   (ipc-pti: the
#   kernel booted with pti=on; linux: wall-clock figures, without -icount: tools/bench-linux.py;
#   disk: MB/s and IOPS raw through blk and through fs, virtio-blk and IDE (wall clock), then the
#   Linux guest's dd through the whole stack against bare QEMU, and one table of the ratios
#   (bench/disk/bench-disk.py: --size, --reps, --icount, --smoke); net: the Linux
#   guest's TCP throughput to the host and ping through the whole stack against bare QEMU; ARGS
#   go to tools/bench-guest.py (--size MIB, --reps N): docs/benchmarks.md)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh >/dev/null || { echo "build failed"; exit 1; }
log=$(mktemp)
out=$(mktemp)
trap 'rm -f "$log" "$out"' EXIT

# Boots the kernel with the modules (NAME=PATH, the first the root task) and the kernel command
# line $cmdline through tests/system/run.py, serial to $log; fails unless the run printed
# `bench: done` (and every line of $expect).
cmdline=""
expect=()
disk=()  # run.py's disk arguments (--disk IMG ...)
icount=--icount  # the disk benchmark also runs without it (wall-clock time)
timeout=300
boot() {
  local args=($icount --timeout $timeout --no-checks --expect '^bench: done' --log "$log"
              --kernel build/kernel/resurgo.elf ${cmdline:+--cmdline "$cmdline"} ${disk[@]+"${disk[@]}"})
  for m in "$@"; do args+=(--module "$m"); done
  for e in ${expect[@]+"${expect[@]}"}; do args+=(--expect "$e"); done
  python3 tests/system/run.py "${args[@]}" >"$out" ||
    { cat "$out"; echo "benchmark did not finish"; exit 1; }
}

# min/median/max of the "[vmexit] mmio: 0x..." deltas servers/vmm printed, after the warm-up.
vmm_figures() {
  grep -a '^\[vmexit\] mmio: 0x' "$log" | tr -d '\r' | sed 's/.*0x//' | tail -n +201 | while read -r h; do echo $((16#$h)); done |
    sort -n | awk '{v[NR] = $1} END {if (!NR) {print "bench: FAILED no samples from servers/vmm"; exit 1}
      printf "bench: vmexit round trip, servers/vmm  min %5d  median %5d  max %7d  (n=%d)\n", v[1], v[int(NR / 2) + 1], v[NR], NR}'
}

# The vm-stall guest's reports (bench/restart/vmstall-guest.S, "[NAME] mmio: 0x..." lines) in
# decimal: its stalls (gaps above 5,000 instructions) in order, then 0, then its normal gap.
guest_reports() {
  grep -a "^\[$1\] mmio: 0x" "$log" | tr -d '\r' | sed 's/.*0x//' | while read -r h; do echo $((16#$h)); done
}
guest_stalls() { guest_reports "$1" | sed '/^0$/,$d'; }
guest_normal() { guest_reports "$1" | sed -n '/^0$/{n;p;q}'; }

# vmm-hang: a hang's stall is the gap of more than 1 ms (the VMM's restart alone is about 0.1 ms,
# init's ordinary tick 6,500 instructions); one per hang, in order, next to init's log of it.
vmm_hang_figures() {  # $1: what ran beside the VMM
  local normal stalls hangs
  normal=$(guest_normal vmhang)
  stalls=$(guest_stalls vmhang | awk '$1 > 1000000')
  hangs=$(grep -ac '\[init\] t=[0-9]* inject hang into vmhang' "$log" || true)
  [ -n "$stalls" ] || { echo "bench: FAILED no stalls reported"; exit 1; }
  printf 'bench: vmm-hang %s, stall per hang (instructions, in order):' "$1"; printf ' %s' $stalls; echo
  # init's view: the injection, the verdict (what was owed), the new instance's first receive
  grep -a '\[init\] t=[0-9]* \(inject hang into vmhang\|vmhang watchdog\|vmhang serving again\)' "$log" |
    tr -d '\r' | awk -v what="$1" '/inject/ {sub(/^.*t=/, ""); t = $1 + 0; next}
      /watchdog/ {s = $0; sub(/^.*t=/, "", s); f = s + 0; w = $0; sub(/^.*\(/, "", w); sub(/\).*$/, "", w); next}
      /serving again/ {s = $0; sub(/^.*t=/, "", s)
        printf "bench: vmm-hang %s, init: injected at t=%d ms, found %d ms later (%s), serving %d ms later\n",
          what, t, f - t, w, s - t}'
  echo "$stalls" | sort -n | awk -v normal="$normal" -v hangs="$hangs" -v what="$1" '{v[NR] = $1}
    END {printf "bench: vmm-hang %s, guest-visible stall per hang (%d stalls, %d hangs): median %d (%.1f ms), " \
           "min %d (%.1f ms), max %d (%.1f ms); normal gap %d instructions\n", what, NR, hangs,
           v[int((NR + 1) / 2)], v[int((NR + 1) / 2)] / 1e6, v[1], v[1] / 1e6, v[NR], v[NR] / 1e6, normal}'
}

case "${1:-ipc}" in
  ipc)     boot ipc=build/bench/bench-ipc.elf; grep -a '^bench:' "$log" ;;
  ipc-pti) cmdline="pti=on"; boot ipc=build/bench/bench-ipc.elf; grep -a '^pti:' "$log"; grep -a '^bench:' "$log" ;;
  restart) timeout=900 # slow on a loaded machine: 60 restarts, 30 of them with idle time
           boot init=build/servers/init/init.elf manifest=bench/restart/manifest.txt echo=build/servers/echo/echo.elf \
                restartbench=build/bench/bench-restart.elf
           grep -a '^bench:' "$log" ;;
  vmm-stall) # the guest's gaps (instructions) while init kills its VMM 8 times
           timeout=900
           boot init=build/servers/init/init.elf manifest=bench/restart/manifest-vmstall.txt \
                vmm=build/servers/vmm/vmm.elf benchvmexit=build/bench/bench-vmexit.elf \
                vmstallguest=build/bench/vmstall-guest.bin
           guest_stalls vmstall | sort -rn | awk -v normal="$(guest_normal vmstall)" '{v[NR] = $1}
             END {if (!NR) {print "bench: FAILED no stalls reported"; exit 1}
               printf "bench: vmm-stall, guest gaps > 5000 (instructions, largest first):"
               for (i = 1; i <= NR; i++) printf " %d", v[i]; printf "\n"
               printf "bench: vmm-stall, 8 kills (each: the kill, the emptying, the standby build): largest gap %d, 8th largest %d (n=%d); normal gap %d\n",
                 v[1], v[NR < 8 ? NR : 8], NR, normal}'
           grep -a 'vmstall.*\(killed\|restarted\)' "$log" | tail -2; echo "bench: done" ;;
  vmm-hang) # the guest's stall (instructions = ns of its time) while init hangs its VMM 10 times
           timeout=1800
           # alone, then next to a peer VMM at its priority (a hello guest), as in the campaigns
           for peer in "" -peer; do
             boot init=build/servers/init/init.elf manifest=bench/restart/manifest-vmhang$peer.txt \
                  vmm=build/servers/vmm/vmm.elf benchvmexit=build/bench/bench-vmexit.elf \
                  vmhangguest=build/bench/vmhang-guest.bin hello=build/guests/hello.bin
             if [ -n "$peer" ]; then vmm_hang_figures "with a peer"; else vmm_hang_figures alone; fi
             { grep -a '\[init\] t=[0-9]* vmpeer \(watchdog\|fault\|killed\)' "$log" || true; } |
               sed 's/^/bench: vmm-hang, the peer restarted: /'
           done
           echo "bench: done" ;;
  vmexit)  # next to the bare IPC round trip; the guest's deltas include one RDTSC
           boot ipc=build/bench/bench-ipc.elf; grep -a '^bench: ipc round trip' "$log"
           vm=(vmm=build/servers/vmm/vmm.elf benchvmexit=build/bench/bench-vmexit.elf vmexitguest=build/bench/vmexit-guest.bin)
           boot init=build/servers/init/init.elf manifest=bench/vmexit/manifest-bare.txt "${vm[@]}"
           grep -a '^bench: vmexit' "$log"
           # every sample is printed before the guest halts
           expect=('^vmm vmexit: guest halted with interrupts disabled')
           boot init=build/servers/init/init.elf manifest=bench/vmexit/manifest-vmm.txt "${vm[@]}"
           vmm_figures; echo "bench: done" ;;
  linux)   exec python3 tools/bench-linux.py ;;
  disk)    # the whole disk benchmark in one run (bench/disk/bench-disk.py): a native client raw
           # through blk's channel and through fs -> blk, on virtio-blk and on the PIIX's IDE disk
           # (wall clock; --icount adds the same under -icount shift=0), then the Linux guest's dd
           # through VMM -> fs -> blk against bare QEMU's virtio-blk; a summary with the ratios.
           # ARGS: --size MIB --reps N (the guest's dd), --ifaces, --no-linux, --smoke, --log DIR
           exec python3 bench/disk/bench-disk.py "${@:2}" ;;
  disk-linux) exec python3 tools/bench-guest.py disk "${@:2}" ;;  # the Linux part of disk alone
  net)     exec python3 tools/bench-guest.py net "${@:2}" ;;
  *) echo "usage: $0 [ipc|ipc-pti|restart|vmm-stall|vmm-hang|vmexit|linux|disk|disk-linux|net] [ARGS]"; exit 2 ;;
esac
