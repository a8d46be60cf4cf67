#!/bin/sh
# SPDX-License-Identifier: MIT
# Makes system-fs's disk: an ext2 image (1 KiB blocks) from a directory holding the redo log fs
# needs (/.resurgo-log, 256 blocks of non-zero bytes so that mke2fs allocates them all, as
# tests/unit/test_ext2_host.c does) and one file fstest reads back. Usage: mkimage.sh IMG MIB
set -eu
PATH=$PATH:/usr/sbin:/sbin # mke2fs
img=$1 size=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
head -c 262144 /dev/zero | tr '\0' '\245' > "$dir/.resurgo-log"
printf 'hello from mke2fs -d\n' > "$dir/hello.txt"
rm -f "$img"
mke2fs -q -F -t ext2 -b 1024 -d "$dir" "$img" "${size}M" >/dev/null
