#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Makes system-linux-fsdisk's disk: an outer ext2 image for fs (servers/fs) on blk's virtio-blk
PCI disk, made by mke2fs -d from a directory holding fs's redo log (/.resurgo-log, as
tests/system/fs/mkimage.sh) and the guest's disk /disks/disk-linux.img: the inner ext2 image of
system-linux-disk (disk-image.py: known.txt, dir/known.bin), which fs serves to the VMM over the
channel named disk-linux (servers/fs/filedisk.h).

  fsdisk-image.py OUT.img OUTER_MIB INNER_MIB"""
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    out, outer, inner = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    here = os.path.dirname(os.path.abspath(__file__))
    mke2fs = shutil.which("mke2fs") or "/usr/sbin/mke2fs"
    env = dict(os.environ, E2FSPROGS_FAKE_TIME="1", SOURCE_DATE_EPOCH="1")
    with tempfile.TemporaryDirectory(prefix="resurgo-fsdisk-") as d:
        root = os.path.join(d, "root")
        os.makedirs(os.path.join(root, "disks"))
        with open(os.path.join(root, ".resurgo-log"), "wb") as f:
            f.write(b"\xa5" * 262144)  # non-zero: mke2fs allocates every block of the log
        subprocess.run([sys.executable, os.path.join(here, "disk-image.py"),
                        os.path.join(root, "disks", "disk-linux.img"), str(inner)], check=True)
        tmp = out + ".tmp"
        if os.path.exists(tmp):
            os.remove(tmp)
        subprocess.run([mke2fs, "-q", "-F", "-t", "ext2", "-b", "1024", "-r", "1",
                        "-U", "52657375-7267-6f00-0000-000000000003",
                        "-E", "hash_seed=52657375-7267-6f00-0000-000000000004,root_owner=0:0",
                        "-d", root, tmp, f"{outer}M"], check=True, env=env)
        os.replace(tmp, out)


if __name__ == "__main__":
    main()
