#!/usr/bin/env python3
"""Helpers for build-image.sh (run on the host against the guest root dir).

  mkinitramfs-mini.py initrd ROOT KVER OUT.cpio
      Write a tiny uncompressed initramfs: static busybox from ROOT, the
      modules needed to mount an ext4 root on virtio-blk (decompressed), and an
      /init that insmods them, mounts /dev/vda on /root and switch_roots into
      the init= given on the kernel command line (default /sbin/wlcap-init).
      Replaces initramfs-tools' 11 MB initrd (udev, hwdb, ...) at boot.

  mkinitramfs-mini.py unxz ROOT KVER MODULE...
      Decompress MODULE and its dependencies in place (.ko.xz -> .ko) inside
      ROOT so that modprobe at boot does not run xz under emulation.
      Run depmod afterwards.
"""
import lzma
import os
import struct
import sys
from pathlib import Path


def moddir(root, kver):
    return os.path.join(root, "usr/lib/modules", kver)

def norm(n):
    return n.replace("-", "_")

def read_deps(root, kver):
    deps, byname = {}, {}
    with open(os.path.join(moddir(root, kver), "modules.dep")) as f:
        for line in f:
            path, _, rest = line.strip().partition(":")
            deps[path] = rest.split()
            base = os.path.basename(path).split(".ko")[0]
            byname[norm(base)] = path
    builtin = set()
    try:
        with open(os.path.join(moddir(root, kver), "modules.builtin")) as f:
            builtin = {norm(os.path.basename(line.strip()).split(".ko")[0]) for line in f}
    except FileNotFoundError:
        pass
    return deps, byname, builtin

def closure(root, kver, names):
    deps, byname, builtin = read_deps(root, kver)
    order = []
    def load(path):
        if path in order:
            return
        for d in deps.get(path, []):
            load(d)
        order.append(path)
    for n in names:                     # a trailing "?" marks an optional module
        opt = n.endswith("?")
        n = norm(n.rstrip("?"))
        if n in builtin:
            continue
        if n not in byname:
            if opt:
                continue
            sys.exit(f"module {n}: neither built in nor in modules.dep")
        load(byname[n])
    return order

def module_bytes(root, kver, rel):
    p = os.path.join(moddir(root, kver), rel)
    data = Path(p).read_bytes()
    if p.endswith(".xz"):
        data = lzma.decompress(data)
    elif p.endswith(".zst"):
        sys.exit("zstd-compressed modules are not handled: " + p)
    return data

def is_static(elf):
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        ptype, = struct.unpack_from("<I", elf, phoff + i * phentsize)
        if ptype == 3:          # PT_INTERP
            return False
    return True

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
for m in $(cat /modules.list); do insmod /lib/modules/$m || echo "initramfs: insmod $m failed"; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
INIT=/sbin/wlcap-init; RO=rw
for a in $(cat /proc/cmdline); do
  case $a in init=*) INIT=${a#init=} ;; ro) RO=ro ;; esac
done
if ! mount -t ext4 -o $RO /dev/vda /root; then
  echo "initramfs: FATAL: cannot mount /dev/vda"; sleep 1; echo o > /proc/sysrq-trigger; sleep 5
fi
umount /proc /sys
mount --move /dev /root/dev
exec switch_root /root "$INIT"
"""

class Cpio:
    def __init__(self):
        self.buf = bytearray()
        self.ino = 1
    def add(self, name, mode, data=b"", rdev=(0, 0)):
        hdr = "070701" + "".join(f"{v:08X}" for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0))
        self.ino += 1
        self.buf += hdr.encode() + name.encode() + b"\0"
        self.buf += b"\0" * (-len(self.buf) % 4)
        self.buf += data
        self.buf += b"\0" * (-len(self.buf) % 4)
    def finish(self):
        self.add("TRAILER!!!", 0)
        return bytes(self.buf)

def cmd_initrd(root, kver, out):
    bb = None
    for c in ("usr/bin/busybox", "bin/busybox"):
        p = os.path.join(root, c)
        if os.path.exists(p):
            bb = Path(p).read_bytes()
            break
    if bb is None or not is_static(bb):
        sys.exit("need a static busybox in the guest (package busybox-static)")
    mods = closure(root, kver, ["virtio_pci", "virtio_blk", "ext4", "crc32c_cryptoapi?"])
    c = Cpio()
    for d in ("bin", "dev", "proc", "sys", "root", "lib", "lib/modules"):
        c.add(d, 0o040755)
    c.add("dev/console", 0o020600, rdev=(5, 1))
    c.add("dev/null", 0o020666, rdev=(1, 3))
    c.add("bin/busybox", 0o100755, bb)
    c.add("init", 0o100755, INIT.encode())
    names = []
    for rel in mods:
        n = os.path.basename(rel).split(".ko")[0] + ".ko"
        c.add("lib/modules/" + n, 0o100644, module_bytes(root, kver, rel))
        names.append(n)
    c.add("modules.list", 0o100644, ("\n".join(names) + "\n").encode())
    Path(out).write_bytes(c.finish())
    print(f"mini initramfs: {os.path.getsize(out)} bytes, modules: {' '.join(names)}", file=sys.stderr)

def cmd_unxz(root, kver, names):
    done = []
    for rel in closure(root, kver, names):
        if rel.endswith(".xz"):
            p = os.path.join(moddir(root, kver), rel)
            with open(p[:-3], "wb") as f:
                f.write(module_bytes(root, kver, rel))
            os.remove(p)
            done.append(os.path.basename(p[:-3]))
    print(f"decompressed {len(done)} modules: {' '.join(done)}", file=sys.stderr)

if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "initrd":
        cmd_initrd(*sys.argv[2:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "unxz":
        cmd_unxz(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)
