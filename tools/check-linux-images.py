#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Checks the Linux guest's images (guests/README.md, "Linux guest") as a loader and the kernel will
# use them: the bzImage's setup header (Linux boot protocol, Documentation/arch/x86/boot.rst) and
# the initramfs, a newc cpio (Documentation/driver-api/early-userspace/buffer-format.rst) holding
# /init, busybox and its shell, the mount points, and the virtio and ext4 modules built for the very
# release the bzImage names, in an order /init can insmod them.
# usage: check-linux-images.py BZIMAGE INITRD
import stat, sys

MODULES = ['virtio', 'virtio_ring', 'virtio_mmio', 'virtio_blk', 'virtio_net', 'failover', 'net_failover',
           'crc32c_generic', 'crc16', 'mbcache', 'jbd2', 'ext4']
# load-order-pci: loaded after load-order where a virtio PCI device exists (bare QEMU)
MODULES_PCI = ['virtio_pci', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev']
errors = []


def check(ok, what):
    if not ok:
        errors.append(what)
    return ok


def u(data, off, size):
    return int.from_bytes(data[off:off + size], 'little')


def check_bzimage(path):
    """The release string the bzImage names (its kernel_version field), after checking its header."""
    img = open(path, 'rb').read()
    if not check(len(img) >= 0x1000, '%s: %d bytes, too short for a setup header' % (path, len(img))):
        return None
    setup_sects = img[0x1F1] or 4  # 0 means 4 (boot.rst)
    version = u(img, 0x206, 2)
    setup_end = (setup_sects + 1) * 512
    syssize = u(img, 0x1F4, 4) * 16
    check(u(img, 0x1FE, 2) == 0xAA55, '%s: boot_flag is not 0xAA55' % path)
    check(img[0x202:0x206] == b'HdrS', '%s: no "HdrS" at 0x202' % path)
    check(version >= 0x0206, '%s: boot protocol %#x, want >= 2.06 (cmdline_size, initrd_addr_max)' % (path, version))
    check(setup_end < len(img), '%s: setup_sects %d runs past the file (%d bytes)' % (path, setup_sects, len(img)))
    # The protected-mode kernel follows the setup code. Debian's signed image carries its
    # Authenticode signature after it (some KiB that no loader needs to copy).
    check(0 < syssize and setup_end + syssize <= len(img) <= setup_end + syssize + 0x10000,
          '%s: syssize %d bytes does not fit the %d bytes after setup' % (path, syssize, len(img) - setup_end))
    check(img[0x211] & 1, '%s: loadflags.LOADED_HIGH clear: the kernel would not load at 1 MiB' % path)
    check(version < 0x020C or u(img, 0x236, 2) & 1, '%s: xloadflags.XLF_KERNEL_64 clear: no 64-bit entry' % path)
    check(u(img, 0x238, 4) >= 255, '%s: cmdline_size %d' % (path, u(img, 0x238, 4)))
    kv = u(img, 0x20E, 2) + 0x200
    if not check(0x200 < kv < setup_end and b'\0' in img[kv:setup_end], '%s: kernel_version %#x outside setup' % (path, kv)):
        return None
    name = img[kv:img.index(b'\0', kv)].decode(errors='replace')
    print('%s: %d bytes, boot protocol %d.%02d, setup_sects %d, protected-mode part %d bytes (+%d trailing), '
          'pref_address %#x, kernel_alignment %#x, relocatable %d, init_size %#x, xloadflags %#x, kernel %s' % (
              path, len(img), version >> 8, version & 0xFF, setup_sects, syssize, len(img) - setup_end - syssize,
              u(img, 0x258, 8), u(img, 0x230, 4), img[0x234], u(img, 0x260, 4), u(img, 0x236, 2), name))
    return name.split(' ')[0]


def read_cpio(path):
    """{name: (mode, rdev, data)} of a newc archive, in archive order, checking the framing."""
    buf = open(path, 'rb').read()
    entries, off = {}, 0
    while True:
        if not check(buf[off:off + 6] == b'070701', '%s: no newc header at %d' % (path, off)):
            return entries
        f = [int(buf[off + 6 + 8 * i:off + 14 + 8 * i], 16) for i in range(13)]
        mode, filesize, rdev, namesize = f[1], f[6], (f[9], f[10]), f[11]
        name = buf[off + 110:off + 110 + namesize - 1].decode()
        off = (off + 110 + namesize + 3) & ~3
        data = buf[off:off + filesize]
        off = (off + filesize + 3) & ~3
        if name == 'TRAILER!!!':
            return entries
        parent = name.rpartition('/')[0]
        # the kernel's unpacker creates no directories on its own
        check(not parent or stat.S_ISDIR(entries.get(parent, (0,))[0]), '%s: %s comes before its directory' % (path, name))
        check(name not in entries, '%s: %s twice' % (path, name))
        entries[name] = (mode, rdev, data)


def modinfo(data):
    """The key=value strings of an ELF64 module's .modinfo section."""
    shoff, shentsize, shnum, shstrndx = u(data, 0x28, 8), u(data, 0x3A, 2), u(data, 0x3C, 2), u(data, 0x3E, 2)
    sec = [(u(data, shoff + i * shentsize, 4), u(data, shoff + i * shentsize + 0x18, 8),
            u(data, shoff + i * shentsize + 0x20, 8)) for i in range(shnum)]
    strtab = sec[shstrndx][1]
    for name, off, size in sec:
        if data[strtab + name:data.index(b'\0', strtab + name)] == b'.modinfo':
            return dict(s.decode().split('=', 1) for s in data[off:off + size].split(b'\0') if b'=' in s)
    return {}


def check_initrd(path, release):
    e = read_cpio(path)
    kind = lambda n: stat.S_IFMT(e[n][0]) if n in e else None
    for d in ['dev', 'proc', 'sys', 'tmp', 'root', 'etc']:
        check(kind(d) == stat.S_IFDIR, '%s: no /%s directory' % (path, d))
    check(kind('init') == stat.S_IFREG and e['init'][0] & 0o111 and e['init'][2].startswith(b'#!/bin/sh\n'),
          '%s: /init is not an executable #!/bin/sh script' % path)
    bb = e.get('bin/busybox', (0, 0, b''))
    check(kind('bin/busybox') == stat.S_IFREG and bb[0] & 0o111 and bb[2][:4] == b'\x7fELF' and
          bb[2][4] == 2 and u(bb[2], 0x12, 2) == 0x3E, '%s: /bin/busybox is not an executable x86-64 ELF' % path)
    # static: no program interpreter (PT_INTERP) to look for in an initramfs without a libc
    if len(bb[2]) > 64:
        phoff, phentsize, phnum = u(bb[2], 0x20, 8), u(bb[2], 0x36, 2), u(bb[2], 0x38, 2)
        check(all(u(bb[2], phoff + i * phentsize, 4) != 3 for i in range(phnum)), '%s: /bin/busybox is dynamic' % path)
    for applet in ['bin/sh', 'sbin/insmod', 'bin/mount', 'usr/bin/setsid', 'bin/cttyhack', 'bin/uname']:
        check(kind(applet) == stat.S_IFLNK and e[applet][2] == b'/bin/busybox',
              '%s: /%s is not a link to /bin/busybox' % (path, applet))
    check(kind('dev/console') == stat.S_IFCHR and e['dev/console'][1] == (5, 1), '%s: no /dev/console (5,1)' % path)
    if release is None:
        return
    moddir = 'lib/modules/%s/' % release
    order = e.get(moddir + 'load-order', (0, 0, b''))[2].decode().split()
    check(sorted(order) == sorted(m + '.ko' for m in MODULES), '%s: %sload-order lists %r' % (path, moddir, order))
    pci = e.get(moddir + 'load-order-pci', (0, 0, b''))[2].decode().split()
    check(sorted(pci) == sorted(m + '.ko' for m in MODULES_PCI), '%s: %sload-order-pci lists %r' % (path, moddir, pci))
    order += pci
    for i, ko in enumerate(order):
        if not check(kind(moddir + ko) == stat.S_IFREG, '%s: no %s%s' % (path, moddir, ko)):
            continue
        data = e[moddir + ko][2]
        info = modinfo(data) if data[:4] == b'\x7fELF' else {}
        # an uncompressed module: busybox's insmod hands the file to init_module as it is
        check(info.get('vermagic', '').split(' ')[0] == release,
              '%s: %s is for %r, not %s' % (path, ko, info.get('vermagic'), release))
        for dep in filter(None, info.get('depends', '').split(',')):
            check(dep + '.ko' in order[:i], '%s: %s loads before %s, which it depends on' % (path, ko, dep))
    print('%s: %d entries, %d bytes; modules in load order: %s' % (
        path, len(e), sum(len(v[2]) for v in e.values()), ' '.join(order)))


if len(sys.argv) != 3:
    sys.exit('usage: check-linux-images.py BZIMAGE INITRD')
check_initrd(sys.argv[2], check_bzimage(sys.argv[1]))
for err in errors:
    print('BAD ' + err)
sys.exit(1 if errors else 0)
