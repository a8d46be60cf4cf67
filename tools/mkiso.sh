#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Make a hybrid GRUB boot image: tools/mkiso.sh [--graphics] [--cmdline ARGS] OUT.iso KERNEL.elf NAME=FILE...
# The kernel is booted with multiboot2 and the command line ARGS; each NAME=FILE
# becomes a module whose command line is NAME, in the order given (the first one
# is the root task). The image boots by BIOS (grub-pc-bin: El Torito from CD, an MBR when
# written raw to a disk or USB stick) and by UEFI (grub-efi-amd64-bin: an EFI system partition
# image, from CD or as a GPT/MBR disk); see docs/bare-metal.md.
set -euo pipefail

# --graphics: on BIOS too, GRUB sets the graphics mode the kernel's framebuffer tag asks for
# (docs/screen-console.md); without it a BIOS boot keeps the VGA text screen (Bochs' terminal
# display, which the Bochs tests use, cannot show graphics modes). UEFI has no text mode.
gfxpayload="if [ \"\$grub_platform\" = pc ]; then set gfxpayload=text; fi"
if [ "${1:-}" = "--graphics" ]; then
    gfxpayload=
    shift
fi
cmdline=
if [ "${1:-}" = "--cmdline" ] && [ $# -ge 2 ]; then
    cmdline=$2
    shift 2
fi
if [ $# -lt 2 ]; then
    echo "usage: $0 [--cmdline ARGS] OUT.iso KERNEL.elf [NAME=FILE...]" >&2
    exit 2
fi
if [[ "$cmdline" =~ [\"\'\$\;\\] ]]; then
    echo "$0: command line may not contain quotes, \$, ; or \\" >&2
    exit 2
fi
out=$1 kernel=$2
shift 2

# Both GRUB platforms must be there, else grub-mkrescue silently makes a one-firmware image.
for p in i386-pc x86_64-efi; do
    if [ ! -e "/usr/lib/grub/$p/moddep.lst" ]; then
        echo "$0: GRUB platform $p missing (tools/deps.sh installs grub-pc-bin and grub-efi-amd64-bin)" >&2
        exit 1
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
iso=$tmp/iso
mkdir -p "$iso/boot/grub"
cp "$kernel" "$iso/boot/resurgo.elf"

cfg=$iso/boot/grub/grub.cfg
cat >"$cfg" <<CFG
set timeout=0
set default=0
# COM1 where there is one (GRUB's EFI build drives the 16550 too), and the screen: a machine
# without a serial port still shows GRUB's messages.
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
# EFI has no VGA text mode: the video drivers let multiboot2 hand over a framebuffer (GOP/UGA).
if [ "\$grub_platform" = efi ]; then insmod all_video; fi
menuentry "Resurgo" {
    multiboot2 /boot/resurgo.elf $cmdline
    $gfxpayload
CFG
for m in "$@"; do
    name=${m%%=*} file=${m#*=}
    if [ "$name" = "$m" ] || [ -z "$name" ] || [[ "$name" == */* ]]; then
        echo "$0: bad module '$m' (want NAME=FILE)" >&2
        exit 2
    fi
    cp "$file" "$iso/boot/$name"
    echo "    module2 /boot/$name $name" >>"$cfg"
done
echo "    boot" >>"$cfg"
echo "}" >>"$cfg"

# Without -d grub-mkrescue takes every platform under /usr/lib/grub (both, checked above).
if ! grub-mkrescue -o "$out" "$iso" >"$tmp/log" 2>&1; then
    cat "$tmp/log" >&2
    echo "$0: grub-mkrescue failed" >&2
    exit 1
fi
