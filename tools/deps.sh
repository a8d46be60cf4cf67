#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian packages Resurgo needs, only those that are missing.
set -euo pipefail

PKGS=(
    gcc binutils pkg-config python3 meson ninja-build libcriterion-dev clang-format git
    qemu-system-x86
    bochs bochs-term bochsbios vgabios
    grub-pc-bin grub-common xorriso mtools
)

missing=()
for p in "${PKGS[@]}"; do
    dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null; then
    SUDO=(sudo)
else
    echo "deps.sh: missing packages: ${missing[*]}" >&2
    echo "deps.sh: not root and no sudo; install them as root and rerun" >&2
    exit 1
fi

echo "deps.sh: installing ${missing[*]}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { "${SUDO[@]}" apt-get update -q &&
       "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
           apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "deps.sh: apt-get failed installing: ${missing[*]}" >&2
    exit 1
fi
