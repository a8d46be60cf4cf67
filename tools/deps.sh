#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian packages Resurgo needs, only those that are missing, and fetch apt's package
# lists if there are none (the build downloads the Linux guest's packages with apt-get download).
set -euo pipefail

PKGS=(
    gcc binutils pkg-config python3 meson ninja-build libcriterion-dev clang-format git
    qemu-system-x86
    bochs bochs-term bochsbios vgabios
    grub-pc-bin grub-efi-amd64-bin grub-common xorriso mtools ovmf
    e2fsprogs acpica-tools
)

missing=()
for p in "${PKGS[@]}"; do
    dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
done
# The Linux guest's packages are downloaded by the build, not installed (tools/linux-images.py):
# apt-get download needs only the package lists, which a fresh Debian image has not fetched yet.
lists=0
apt-cache show linux-image-amd64 busybox-static >/dev/null 2>&1 || lists=1
[ ${#missing[@]} -eq 0 ] && [ "$lists" -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null; then
    SUDO=(sudo)
else
    [ ${#missing[@]} -eq 0 ] || echo "deps.sh: missing packages: ${missing[*]}" >&2
    [ "$lists" -eq 0 ] || echo "deps.sh: apt has no package lists (apt-get update)" >&2
    echo "deps.sh: not root and no sudo; install them as root and rerun" >&2
    exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps.sh: fetching the package lists (apt-get update)"
    "${SUDO[@]}" apt-get update -q >"$log" 2>&1 || { tail -n 30 "$log" >&2; echo "deps.sh: apt-get update failed" >&2; exit 1; }
    exit 0
fi
echo "deps.sh: installing ${missing[*]}"
if ! { "${SUDO[@]}" apt-get update -q &&
       "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
           apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "deps.sh: apt-get failed installing: ${missing[*]}" >&2
    exit 1
fi
