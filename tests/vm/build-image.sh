#!/bin/bash
# build-image.sh — build (or reuse) the cached wlcap guest image.
#
# Output: a directory $CACHE/<key>/ holding rootfs.img (ext4), vmlinuz,
# initrd.img (initramfs-tools), initrd-mini.img (busybox), packages-versions.txt and build-info.txt. <key> is a hash of
# this script, packages.txt and guest-init.sh, so a second run with unchanged
# inputs is a no-op. The image directory's path is printed as the LAST line
# of stdout (everything else goes to stderr).
#
# Env: WLCAP_VM_CACHE (default /var/cache/wlcap-vm)
#      WLCAP_VM_MIRROR (default http://deb.debian.org/debian)
#      WLCAP_VM_SUITE  (default testing; part of the key)
#      WLCAP_VM_EXTRA_PACKAGES (space/comma separated extra guest packages,
#                       e.g. "gdb" for a debug image; part of the key)
# Exit: 0 ok, 77 skipped (archive unreachable / missing host tools / not root),
#       other = failure.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${WLCAP_VM_CACHE:-/var/cache/wlcap-vm}
MIRROR=${WLCAP_VM_MIRROR:-http://deb.debian.org/debian}
SUITE=${WLCAP_VM_SUITE:-testing}
EXTRA=$(echo "${WLCAP_VM_EXTRA_PACKAGES:-}" | tr -s ', \t' '\n\n\n' | grep -v '^$' | sort -u | paste -sd, - || true)
PKGFILE=$HERE/packages.txt
INITFILE=$HERE/guest-init.sh

log()  { echo "build-image: $*" >&2; }
skip() { echo "skipped: $*" >&2; exit 77; }

KEY=$( { cat "$0" "$PKGFILE" "$INITFILE" "$HERE/mkinitramfs-mini.py"; echo "suite=$SUITE"; echo "extra=$EXTRA"; } | sha256sum | cut -c1-16)
OUT=$CACHE/$KEY

if [ -f "$OUT/.complete" ]; then
  log "cached image up to date: $OUT"
  echo "$OUT"; exit 0
fi

# ---- prerequisites --------------------------------------------------------
[ "$(id -u)" = 0 ] || skip "build-image.sh needs root (mmdebstrap --mode=root, mkfs.ext4 -d)"
for t in mmdebstrap mkfs.ext4 sha256sum flock; do
  command -v $t >/dev/null || skip "host tool '$t' missing (apt-get install -y mmdebstrap e2fsprogs from bookworm)"
done
probe() {
  if command -v curl >/dev/null; then curl -fsS -m 20 -o /dev/null "$1"
  elif command -v wget >/dev/null; then wget -q -T 20 -O /dev/null "$1"
  else python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=20).read(1)' "$1"; fi
}
probe "$MIRROR/dists/$SUITE/InRelease" 2>/dev/null \
  || skip "Debian archive unreachable ($MIRROR/dists/$SUITE/InRelease)"

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [ -f "$OUT/.complete" ]; then echo "$OUT"; exit 0; fi   # built by a concurrent run

PKGS=$(sed -e 's/#.*//' "$PKGFILE" | tr -s ' \t\n' '\n' | grep -v '^$' | paste -sd, -)${EXTRA:+,$EXTRA}
TMP=$CACHE/$KEY.tmp
rm -rf "$TMP"; mkdir -p "$TMP"
ROOT=$TMP/root
T0=$(date +%s)

# Kernel module trees the guest never needs (big; saves ~70 MB).
MODX=""
for d in drivers/net drivers/media sound drivers/scsi drivers/usb drivers/iio drivers/infiniband \
         drivers/gpu/drm/amd drivers/gpu/drm/nouveau drivers/gpu/drm/i915 drivers/gpu/drm/xe \
         drivers/gpu/drm/radeon drivers/staging drivers/comedi drivers/mtd drivers/hwmon \
         drivers/platform drivers/md drivers/target drivers/nvme drivers/mmc drivers/bluetooth \
         net/netfilter net/mac80211 net/wireless net/bluetooth net/sched fs/xfs fs/btrfs fs/ocfs2 \
         fs/smb fs/nfs fs/nfsd; do
  MODX="$MODX --dpkgopt=path-exclude=/usr/lib/modules/*/kernel/$d/*"
done

log "building image $KEY (suite $SUITE) into $OUT"
# shellcheck disable=SC2086
mmdebstrap --mode=root --variant=essential --format=directory \
  --aptopt='Acquire::Check-Valid-Until "false"' \
  --aptopt='APT::Install-Recommends "false"' \
  --aptopt='APT::Install-Suggests "false"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/i18n/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --dpkgopt='path-exclude=/usr/share/help/*' \
  --dpkgopt='path-exclude=/usr/share/qt6/translations/*' \
  --dpkgopt='path-exclude=/usr/share/obs/obs-studio/locale/*' \
  --dpkgopt='path-include=/usr/share/obs/obs-studio/locale/en-US.ini' \
  --dpkgopt='path-exclude=/usr/lib/firmware/*' \
  $MODX \
  --include="$PKGS" \
  --setup-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"' \
  --setup-hook='printf "MODULES=list\nCOMPRESS=zstd\n" > "$1/etc/initramfs-tools/conf.d/wlcap.conf"' \
  --setup-hook='printf "virtio_pci\nvirtio_blk\next4\n" > "$1/usr/share/initramfs-tools/modules.d/wlcap"' \
  --customize-hook="install -m 0755 '$INITFILE' \"\$1/sbin/wlcap-init\"" \
  --customize-hook='echo wlcap-guest > "$1/etc/hostname"' \
  --customize-hook='grep -q "^wl:" "$1/etc/passwd" || { echo "wl:x:1000:1000:wlcap test user:/home/wl:/bin/sh" >> "$1/etc/passwd"; echo "wl:x:1000:" >> "$1/etc/group"; echo "wl:*:20000:0:99999:7:::" >> "$1/etc/shadow"; }' \
  --customize-hook='for g in video render input; do sed -i "/^$g:/{/[:,]wl\(,\|$\)/!{s/$/,wl/; s/:,wl$/:wl/}}" "$1/etc/group"; done; mkdir -p "$1/home/wl" && chown 1000:1000 "$1/home/wl"' \
  --customize-hook='dpkg-query --admindir="$1/var/lib/dpkg" -W -f "\${Package}\t\${Version}\n" > "$1/../packages-versions.txt"' \
  --customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/* "$1"/var/cache/debconf/*-old "$1"/var/log/*' \
  "$SUITE" "$ROOT" "$MIRROR" >&2 || {
    rc=$?
    probe "$MIRROR/dists/$SUITE/InRelease" 2>/dev/null || skip "Debian archive became unreachable during build"
    log "mmdebstrap failed ($rc)"; exit $rc; }
T1=$(date +%s)

# ---- kernel + initrd --------------------------------------------------------
VMLINUZ=$(ls "$ROOT"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -1 || true)
[ -n "$VMLINUZ" ] || VMLINUZ=$(ls "$ROOT"/usr/lib/modules/*/vmlinuz | sort -V | tail -1)
KVER=$(basename "$(dirname "$(ls "$ROOT"/usr/lib/modules/*/modules.dep | sort -V | tail -1)")")
INITRD=$ROOT/boot/initrd.img-$KVER
[ -f "$INITRD" ] || { log "no initrd for $KVER in /boot"; ls -la "$ROOT/boot" >&2; exit 1; }
cp -L "$VMLINUZ" "$TMP/vmlinuz"
cp -L "$INITRD" "$TMP/initrd.img"
# Runtime modules uncompressed (modprobe under TCG is then faster), and a
# tiny busybox initramfs (default at boot; initrd.img from initramfs-tools
# stays available as a fallback: WLCAP_VM_INITRD=tools).
python3 "$HERE/mkinitramfs-mini.py" unxz "$ROOT" "$KVER" 9p 9pnet_virtio virtio_gpu vgem 'udmabuf?' >&2
chroot "$ROOT" depmod -a "$KVER"
python3 "$HERE/mkinitramfs-mini.py" initrd "$ROOT" "$KVER" "$TMP/initrd-mini.img" >&2

# ---- ext4 image -------------------------------------------------------------
USED_MB=$(du -sm "$ROOT" | cut -f1)
SIZE_MB=$(( USED_MB + USED_MB / 4 + 256 ))
truncate -s "${SIZE_MB}M" "$TMP/rootfs.img"
mkfs.ext4 -q -F -L wlcaproot -E root_owner=0:0 -d "$ROOT" "$TMP/rootfs.img" >&2
T2=$(date +%s)

{
  echo "key=$KEY"
  echo "suite=$SUITE"
  echo "extra_packages=$EXTRA"
  echo "mirror=$MIRROR"
  echo "built=$(date -u +%FT%TZ)"
  echo "kernel=$KVER"
  echo "packages=$(wc -l < "$TMP/packages-versions.txt")"
  echo "rootfs_used_mb=$USED_MB"
  echo "rootfs_img_mb=$SIZE_MB"
  echo "rootfs_img_allocated_mb=$(du -sm "$TMP/rootfs.img" | cut -f1)"
  echo "vmlinuz_bytes=$(stat -c %s "$TMP/vmlinuz")"
  echo "initrd_tools_bytes=$(stat -c %s "$TMP/initrd.img")"
  echo "initrd_mini_bytes=$(stat -c %s "$TMP/initrd-mini.img")"
  echo "mmdebstrap_s=$((T1 - T0))"
  echo "mkfs_s=$((T2 - T1))"
  echo "total_s=$((T2 - T0))"
} > "$TMP/build-info.txt"
rm -rf "$ROOT"
touch "$TMP/.complete"
rm -rf "$OUT"; mv "$TMP" "$OUT"
ln -sfn "$KEY" "$CACHE/current"
# keep only the newest 2 images
find "$CACHE" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended -regex '.*/[0-9a-f]{16}' -printf '%T@ %p\n' \
  | sort -rn | tail -n +3 | cut -d' ' -f2- | xargs -r rm -rf --
log "done in $((T2 - T0)) s:"; sed 's/^/  /' "$OUT/build-info.txt" >&2
echo "$OUT"
