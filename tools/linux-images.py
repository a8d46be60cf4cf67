#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The Linux guest images (guests/README.md, "Linux guest"), made from Debian's own packages: the
# kernel linux-image-amd64 depends on today and busybox-static, fetched with apt-get download into
# a cache that outlives build directories, unpacked with dpkg-deb (only the files used; never
# installed into the host), and turned into linux-bzImage plus a newc cpio initramfs holding
# busybox, /init and the virtio modules of that same kernel.
#
# usage: linux-images.py --init INIT --work DIR --bzimage OUT --initrd OUT
# Cache: $RESURGO_DEB_CACHE, else $XDG_CACHE_HOME/resurgo/debs, else ~/.cache/resurgo/debs.
import argparse, os, re, shutil, stat, subprocess, sys, tarfile, tempfile

KERNEL_META = 'linux-image-amd64'
BUSYBOX = 'busybox-static'
# The modules /init loads, by name; load order comes from their own "depends=" (see load_order).
# ext4 (with jbd2, mbcache, crc16) mounts the ext2 disk of system-linux-disk (Debian's kernel has
# CONFIG_EXT4_USE_FOR_EXT2); crc32c_generic is what ext4 asks the crypto API for at mount.
MODULES = ['virtio', 'virtio_ring', 'virtio_mmio', 'virtio_blk', 'virtio_net', 'failover', 'net_failover',
           'crc32c_generic', 'crc16', 'mbcache', 'jbd2', 'ext4']
# virtio over PCI, for the same guest on bare QEMU (-device virtio-blk-pci, virtio-net-pci: the
# baseline of `tools/bench.sh net` and `disk`): /init loads these (load-order-pci, after
# load-order) only when a virtio PCI device exists, so a guest of servers/vmm (virtio-mmio) runs
# as before. virtio_pci's depends= names its two helpers (Linux 6.1).
MODULES_PCI = ['virtio_pci', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev']
# Fixed mtime for every cpio entry, so that the same packages give the same bytes.
MTIME = int(os.environ.get('SOURCE_DATE_EPOCH', '0'))


def log(msg):
    print('linux-images: ' + msg, file=sys.stderr)


def die(msg):
    log(msg)
    sys.exit(1)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw).stdout


def cache_dir():
    d = os.environ.get('RESURGO_DEB_CACHE')
    if not d:
        base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
        d = os.path.join(base, 'resurgo', 'debs')
    os.makedirs(d, exist_ok=True)
    return d


def candidate(pkg):
    """(package, version) apt would install for pkg now, from the local package lists (no network)."""
    out = run(['apt-cache', 'show', '--no-all-versions', pkg])
    fields = dict(re.findall(r'^(\S+): (.*)$', out, re.M))
    return fields['Package'], fields['Version']


def resolve_kernel():
    """The versioned kernel package linux-image-amd64 depends on, e.g. linux-image-6.1.0-NN-amd64."""
    out = run(['apt-cache', 'show', '--no-all-versions', KERNEL_META])
    m = re.search(r'^Depends:.*?\b(linux-image-[0-9][^\s,(]*-amd64)\b', out, re.M)
    if not m:
        raise RuntimeError(KERNEL_META + ' depends on no linux-image-<version>-amd64')
    return candidate(m.group(1))


def deb_name(pkg, version):
    # apt-get download's file name: the epoch's ':' is written %3a.
    return '%s_%s_amd64.deb' % (pkg, version.replace(':', '%3a'))


def deb_field(path, field):
    return run(['dpkg-deb', '-f', path, field]).strip()


def fetch(cache, pkg, version):
    """Path of pkg=version's .deb in the cache, downloaded first if it is not there."""
    path = os.path.join(cache, deb_name(pkg, version))
    if os.path.exists(path):
        return path
    log('downloading %s=%s into %s' % (pkg, version, cache))
    # apt-get download writes into its working directory; a private one inside the cache, renamed
    # into place when complete, means a download cut short or a build running beside this one never
    # leaves a half file under the final name.
    tmp = tempfile.mkdtemp(prefix='.dl-', dir=cache)
    try:
        os.chmod(tmp, 0o755)  # apt drops to user _apt for the download where it can
        subprocess.run(['apt-get', 'download', '-q', '%s=%s' % (pkg, version)], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        got = [f for f in os.listdir(tmp) if f.endswith('.deb')]
        if len(got) != 1:
            raise RuntimeError('apt-get download left %r' % got)
        os.replace(os.path.join(tmp, got[0]), path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def newest_cached(cache, pattern):
    """The most recently fetched .deb in the cache whose package name matches pattern, or None."""
    best = None
    for f in os.listdir(cache):
        m = re.match(r'([^_]+)_[^_]+_amd64\.deb$', f)
        if m and re.fullmatch(pattern, m.group(1)):
            p = os.path.join(cache, f)
            if best is None or os.path.getmtime(p) > os.path.getmtime(best):
                best = p
    return best


def get_deb(cache, what, resolver, pattern):
    """The .deb for the package resolver() names; offline, the newest cached one that matches."""
    try:
        pkg, version = resolver()
        return fetch(cache, pkg, version)
    except (subprocess.CalledProcessError, RuntimeError, KeyError, OSError) as e:
        detail = getattr(e, 'stderr', None) or str(e)
        fallback = newest_cached(cache, pattern)
        if fallback is None:
            die('cannot get the %s package: %s\n  (the first build needs network and current package '
                'lists: apt-get update, which tools/deps.sh runs where there are none)' % (what, detail.strip()))
        log('warning: %s (%s); using the cached %s' % (what, detail.strip().splitlines()[-1],
                                                       os.path.basename(fallback)))
        return fallback


def unpack(deb, dest, wanted):
    """Unpacks the files of deb's data archive for which wanted(path) holds into dest.

    dpkg-deb does the unpacking (--fsys-tarfile is -x's first half); only the files the images
    use are written, not the 400 MB of modules the kernel package holds."""
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    p = subprocess.Popen(['dpkg-deb', '--fsys-tarfile', deb], stdout=subprocess.PIPE)
    names = []
    with tarfile.open(fileobj=p.stdout, mode='r|') as tar:
        for member in tar:
            name = os.path.normpath(member.name)
            if member.isfile() and not name.startswith('..') and wanted(name):
                out = os.path.join(dest, name)
                os.makedirs(os.path.dirname(out), exist_ok=True)
                with tar.extractfile(member) as src, open(out, 'wb') as dst:
                    shutil.copyfileobj(src, dst)
                os.chmod(out, member.mode & 0o755)
                names.append(name)
    if p.wait() != 0:
        die('dpkg-deb --fsys-tarfile %s failed' % deb)
    return names


def modinfo(path):
    """The key=value strings of a .ko's .modinfo section (its name, depends=, vermagic=, ...)."""
    data = open(path, 'rb').read()
    # ELF64 little-endian: section headers at e_shoff, names in section e_shstrndx.
    shoff = int.from_bytes(data[0x28:0x30], 'little')
    shentsize, shnum, shstrndx = (int.from_bytes(data[o:o + 2], 'little') for o in (0x3A, 0x3C, 0x3E))

    def section(i):
        h = shoff + i * shentsize
        return (int.from_bytes(data[h:h + 4], 'little'), int.from_bytes(data[h + 0x18:h + 0x20], 'little'),
                int.from_bytes(data[h + 0x20:h + 0x28], 'little'))

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name_off, off, size = section(i)
        name = data[stroff + name_off:data.index(b'\0', stroff + name_off)]
        if name == b'.modinfo':
            pairs = [s.decode() for s in data[off:off + size].split(b'\0') if b'=' in s]
            return dict(s.split('=', 1) for s in pairs)
    raise RuntimeError(path + ' has no .modinfo')


def load_order(found, modules=MODULES, loaded=()):
    """modules in an order where each comes after what its depends= names (insmod does not
    resolve), leaving out those already `loaded` (an earlier list's)."""
    order, seen = [], set(loaded)

    def visit(name, chain):
        if name in seen:
            return
        if name in chain:
            die('module dependency loop: ' + ' -> '.join(chain + [name]))
        if name not in found:
            die('module %s (needed by %s) is not in the kernel package' % (name, chain[-1] if chain else '-'))
        for dep in filter(None, found[name]['info'].get('depends', '').split(',')):
            visit(dep, chain + [name])
        seen.add(name)
        order.append(name)

    for m in modules:
        visit(m, [])
    return order


class Cpio:
    """A newc ("070701") archive, the format the kernel unpacks an initramfs from
    (Documentation/driver-api/early-userspace/buffer-format.rst)."""

    def __init__(self):
        self.out = bytearray()
        self.ino = 0

    def _entry(self, name, mode, data=b'', rdev=(0, 0)):
        self.ino += 1
        nameb = name.encode() + b'\0'
        fields = (self.ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, MTIME, len(data), 0, 0,
                  rdev[0], rdev[1], len(nameb), 0)
        self.out += b'070701' + b''.join(b'%08X' % f for f in fields) + nameb
        self.out += b'\0' * (-len(self.out) % 4)
        self.out += data
        self.out += b'\0' * (-len(self.out) % 4)

    def dir(self, name, perm=0o755):
        self._entry(name, stat.S_IFDIR | perm)

    def file(self, name, data, perm=0o644):
        self._entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor, perm=0o600):
        self._entry(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def finish(self):
        self._entry('TRAILER!!!', 0)
        self.out += b'\0' * (-len(self.out) % 512)
        return bytes(self.out)


def write_atomic(path, data):
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description='Makes the Linux guest images from Debian packages.')
    ap.add_argument('--init', required=True, help='the /init script')
    ap.add_argument('--work', required=True, help='scratch directory for the unpacked packages')
    ap.add_argument('--bzimage', required=True)
    ap.add_argument('--initrd', required=True)
    a = ap.parse_args()

    cache = cache_dir()
    kdeb = get_deb(cache, 'kernel', resolve_kernel, r'linux-image-[0-9].*-amd64')
    bdeb = get_deb(cache, 'busybox', lambda: candidate(BUSYBOX), re.escape(BUSYBOX))
    kpkg, kver = deb_field(kdeb, 'Package'), deb_field(kdeb, 'Version')
    log('kernel %s %s, %s %s' % (kpkg, kver, BUSYBOX, deb_field(bdeb, 'Version')))

    kroot, broot = os.path.join(a.work, 'kernel'), os.path.join(a.work, 'busybox')
    mods = {m + '.ko' for m in MODULES + MODULES_PCI}
    knames = unpack(kdeb, kroot, lambda n: n.startswith('boot/vmlinuz-') or n.startswith('boot/config-') or
                    (n.startswith('lib/modules/') and os.path.basename(n) in mods))
    unpack(bdeb, broot, lambda n: n == 'bin/busybox')

    # The package holds exactly one release: boot/vmlinuz-<release>, lib/modules/<release>/.
    vmlinuz = [n for n in knames if n.startswith('boot/vmlinuz-')]
    if len(vmlinuz) != 1:
        die('%s: expected one boot/vmlinuz-*, found %r' % (kdeb, vmlinuz))
    release = vmlinuz[0][len('boot/vmlinuz-'):]

    found = {}
    for n in knames:
        if n.startswith('lib/modules/%s/kernel/' % release) and n.endswith('.ko'):
            path = os.path.join(kroot, n)
            found[os.path.basename(n)[:-3]] = {'path': path, 'info': modinfo(path)}
    order = load_order(found)
    order_pci = load_order(found, MODULES_PCI, order)
    for m in order + order_pci:
        vermagic = found[m]['info'].get('vermagic', '')
        if vermagic.split(' ')[0] != release:
            die('%s.ko is for %r, not %s' % (m, vermagic, release))

    busybox = open(os.path.join(broot, 'bin', 'busybox'), 'rb').read()
    # The applet list, from the binary itself (static amd64: it runs on the build host).
    applets = run([os.path.join(broot, 'bin', 'busybox'), '--list-full']).split()

    c = Cpio()
    # The kernel's unpacker makes no parent directories: each comes before what it holds.
    dirs = {'bin', 'dev', 'proc', 'sys', 'tmp', 'root', 'etc', 'lib/modules/' + release}
    dirs |= {os.path.dirname(p) for p in applets}
    for d in sorted({'/'.join(d.split('/')[:i + 1]) for d in dirs if d for i in range(d.count('/') + 1)}):
        c.dir(d, 0o1777 if d == 'tmp' else 0o755)
    # The console /init's first output goes to, before /init mounts devtmpfs over /dev.
    c.chardev('dev/console', 5, 1)
    c.file('bin/busybox', busybox, 0o755)
    for path in applets:
        if path != 'bin/busybox':
            c.symlink(path, '/bin/busybox')
    for m in order + order_pci:
        c.file('lib/modules/%s/%s.ko' % (release, m), open(found[m]['path'], 'rb').read())
    # One module file name per line, in load order: /init insmods them in this order (and those
    # of load-order-pci after them, where a virtio PCI device exists).
    c.file('lib/modules/%s/load-order' % release, ''.join(m + '.ko\n' for m in order).encode())
    c.file('lib/modules/%s/load-order-pci' % release, ''.join(m + '.ko\n' for m in order_pci).encode())
    # root's home is /root: the shell's \w prompt shows it as ~ only when getpwuid() finds it.
    c.file('etc/passwd', b'root:x:0:0:root:/root:/bin/sh\n')
    c.file('etc/group', b'root:x:0:\n')
    c.file('init', open(a.init, 'rb').read(), 0o755)
    initrd = c.finish()

    write_atomic(a.bzimage, open(os.path.join(kroot, vmlinuz[0]), 'rb').read())
    write_atomic(a.initrd, initrd)
    log('%s: %d bytes; %s: %d bytes (%d applets, modules %s; for PCI %s)' % (
        a.bzimage, os.path.getsize(a.bzimage), a.initrd, len(initrd), len(applets), ' '.join(order),
        ' '.join(order_pci)))


if __name__ == '__main__':
    main()
