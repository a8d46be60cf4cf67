#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Makes the Linux guest's disk for system-linux-disk: an ext2 file system (1 KiB blocks,
revision 1) built by mke2fs -d from a directory filled here, holding known.txt and known.bin
(256 KiB from a fixed seed), whose checksums the guest checks after mounting /dev/vda.

  disk-image.py OUT.img [SIZE_MIB]"""
import os
import random
import shutil
import subprocess
import sys
import tempfile


def main():
    out = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    mke2fs = shutil.which("mke2fs") or "/usr/sbin/mke2fs"
    with tempfile.TemporaryDirectory(prefix="resurgo-disk-") as d:
        root = os.path.join(d, "root")
        os.makedirs(os.path.join(root, "dir"))
        with open(os.path.join(root, "known.txt"), "w") as f:
            f.write("resurgo virtio-blk disk\n")
        rng = random.Random(20261207)
        with open(os.path.join(root, "dir", "known.bin"), "wb") as f:
            f.write(bytes(rng.getrandbits(8) for _ in range(256 * 1024)))
        tmp = out + ".tmp"
        if os.path.exists(tmp):
            os.remove(tmp)
        # fixed UUID and hash seed, so the same inputs give the same image
        subprocess.run([mke2fs, "-q", "-F", "-t", "ext2", "-b", "1024", "-r", "1",
                        "-U", "52657375-7267-6f00-0000-000000000001",
                        "-E", "hash_seed=52657375-7267-6f00-0000-000000000002,root_owner=0:0",
                        "-d", root, tmp, f"{size}M"],
                       check=True, env=dict(os.environ, E2FSPROGS_FAKE_TIME="1", SOURCE_DATE_EPOCH="1"))
        os.replace(tmp, out)


if __name__ == "__main__":
    main()
