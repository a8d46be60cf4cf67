#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build Resurgo and boot it with its demo guests on QEMU. Ctrl-A X leaves QEMU.
#   --iso   boot through GRUB from an ISO instead of QEMU's -kernel loader
#   --gdb   wait for gdb on :1234 before the first instruction
set -euo pipefail
cd "$(dirname "$0")/.."

iso=0 gdb=0
for arg in "$@"; do
    case $arg in
        --iso) iso=1 ;;
        --gdb) gdb=1 ;;
        *) echo "usage: $0 [--iso] [--gdb]" >&2; exit 2 ;;
    esac
done

tools/build.sh

# Boot modules: build/boot-modules.txt has "NAME PATH" lines, init first;
# a relative PATH is looked up in build/, then in the source tree.
mods=()
if [ -f build/boot-modules.txt ]; then
    while read -r name path || [ -n "$name" ]; do
        [ -z "$name" ] || [[ "$name" == \#* ]] && continue
        [[ "$path" != /* && -e "build/$path" ]] && path=build/$path
        mods+=("$name=$path")
    done <build/boot-modules.txt
else
    mods=(init=build/servers/init/init.elf)
fi

kernel=build/kernel/resurgo.elf
# The command line is tools/qemu_cmd.py's (the one the tests run), interactive: serial and
# monitor on this terminal.
# 1 GiB: the demo's Linux guest has 256 MiB of its own.
args=(--interactive --serial mon:stdio --mem 1024)
# The demo's network (docs/network.md): QEMU's user network on a virtio-net card that nic-virtio
# drives; the switch joins it to the Linux guest (10.0.2.15), whose web server answers on the
# host's port ${RESURGO_HTTP_PORT:-8080}.
args+=(--nic virtio-net-pci
       --netdev "user,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:${RESURGO_HTTP_PORT:-8080}-10.0.2.15:80")
if [ $iso = 1 ]; then
    tools/mkiso.sh build/resurgo.iso "$kernel" "${mods[@]}"
    args+=(--iso build/resurgo.iso)
else
    args+=(--kernel "$kernel")
    for m in "${mods[@]}"; do args+=(--module "$m"); done
fi
if [ $gdb = 1 ]; then
    args+=(--gdb)
    echo "QEMU waits for gdb; in another terminal run:"
    echo "  gdb $kernel -ex 'target remote :1234'"
fi
mapfile -t cmd < <(python3 tools/qemu_cmd.py "${args[@]}")
[ ${#cmd[@]} -gt 0 ] || exit 1
echo "Booting Resurgo; Ctrl-A X leaves QEMU. The Linux guest's web page: http://127.0.0.1:${RESURGO_HTTP_PORT:-8080}/"
exec "${cmd[@]}"
