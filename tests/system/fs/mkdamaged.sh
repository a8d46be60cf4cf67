#!/bin/sh
# SPDX-License-Identifier: MIT
# Makes system-fs-damaged's disk: system-fs's image (mkimage.sh, 1 KiB blocks, 8,192 a group) with
# its group descriptor table zeroed, the primary (block 2) and group 1's backup (block 8194):
# fs's mount rejects it with EUCLEAN (every group's bitmaps and inode table at block 0), and
# e2fsck -fn must find errors it leaves uncorrected (exit status with bit 4). Usage: mkdamaged.sh IMG MIB
set -eu
PATH=$PATH:/usr/sbin:/sbin # e2fsck
img=$1
"$(dirname "$0")/mkimage.sh" "$@"
for b in 2 8194; do
    dd if=/dev/zero of="$img" bs=1024 seek=$b count=1 conv=notrunc status=none
done
rc=0
e2fsck -fn "$img" >/dev/null 2>&1 || rc=$?
if [ $((rc & 4)) -eq 0 ]; then
    echo "mkdamaged.sh: e2fsck -fn $img: exit status $rc, not damaged: the damage missed" >&2
    exit 1
fi
