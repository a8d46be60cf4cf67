#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The fs part of `tools/bench.sh disk` (wall clock) under several builds of servers/fs, one boot
# each, alternating, on virtio-blk and on IDE: by default fs-qd1.elf (one blk request at a time,
# each waited for: the behaviour before blockdev_queue.c) against fs.elf, then raw blk once per
# interface for the ratio, and the load average before each boot (docs/benchmarks.md, bench/disk).
# usage: [IFACES="virtio ide"] bench/disk/compare.sh [ROUNDS [FS_ELF...]]   (ROUNDS: 1)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-1}
shift || true
fss=("$@")
[ ${#fss[@]} -gt 0 ] || fss=(build/servers/fs/fs-qd1.elf build/servers/fs/fs.elf)
log=$(mktemp); img=$(mktemp --suffix=.img); src=$(mktemp --suffix=.img); man=$(mktemp)
trap 'rm -f "$log" "$img" "$src" "$man"' EXIT
tests/system/fs/mkimage.sh "$src" 64
boot() { # label, disk args..., -- modules...
  local label=$1; shift
  local args=(--timeout 900 --no-checks --expect '^bench: done' --log "$log"
              --kernel build/kernel/resurgo.elf)
  while [ "$1" != -- ]; do args+=("$1"); shift; done; shift
  for m in "$@"; do args+=(--module "$m"); done
  echo "bench: load $(cut -d' ' -f1-3 /proc/loadavg) before [$label]"
  python3 tests/system/run.py "${args[@]}" >/dev/null || { tail -20 "$log"; echo "[$label] did not finish"; return 0; }
  grep -a '^bench: disk' "$log" | sed "s|^bench: disk |bench: disk [$label] |"
  grep -a 'blk: instance .* requests served' "$log" | tail -1 | sed "s|^|bench: [$label] |" || true
  grep -a '^fs: blk: .* waits for blk' "$log" | tail -1 | sed "s|^|bench: [$label] |" || true
}
srv=(init=build/servers/init/init.elf blk=build/servers/blk/blk.elf)
for ifc in ${IFACES:-virtio ide}; do
  m=bench/disk/manifest-raw.txt; [ $ifc = ide ] && m=bench/disk/manifest-raw-ata.txt
  boot "$ifc, raw" --disk "$img" --disk-size 64 --disk-if $ifc -- "${srv[@]}" manifest=$m \
       benchdisk=build/bench/bench-disk-raw.elf
  cp bench/disk/manifest-fs.txt "$man"
  [ $ifc = ide ] && sed -i 's/device=virtio-blk dma=16/device=ata dma=4/' "$man"
  for r in $(seq "$rounds"); do
    for fs in "${fss[@]}"; do
      boot "$ifc, $(basename "$fs")" --disk "$img" --disk-image "$src" --disk-if $ifc -- \
           "${srv[@]}" fs="$fs" manifest="$man" benchdisk=build/bench/bench-disk-fs.elf
    done
  done
done
echo "bench: done"
