#!/bin/sh
# wlcap guest PID 1. Installed as /sbin/wlcap-init in the image.
# Mounts the basics, mounts the 9p share (tag "share") at /mnt/share, loads the
# virtual DRM drivers, runs /mnt/share/guest-run.sh, writes its exit status to
# /mnt/share/exit-status and powers the machine off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
umask 022

mnt() { mountpoint -q "$3" 2>/dev/null || { mkdir -p "$3"; mount -t "$1" -o "$4" "$2" "$3"; }; }
mnt proc proc /proc nosuid,nodev,noexec
mnt sysfs sysfs /sys nosuid,nodev,noexec
mnt devtmpfs devtmpfs /dev mode=0755,nosuid
mnt devpts devpts /dev/pts gid=5,mode=620,ptmxmode=666
mnt tmpfs tmpfs /dev/shm mode=1777,nosuid,nodev
mnt tmpfs tmpfs /run mode=0755,nosuid,nodev
mnt tmpfs tmpfs /tmp mode=1777,nosuid,nodev
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
mount -o remount,rw / 2>/dev/null
hostname wlcap-guest 2>/dev/null

# after the trigger the disk goes away: only shell builtins from here on
halt_now() { sync; echo o > /proc/sysrq-trigger; while true; do :; done; }

echo "wlcap-init: up at $(cut -d' ' -f1 /proc/uptime)s, kernel $(uname -r)"
modprobe -q 9pnet_virtio; modprobe -q 9p
SHARE=/mnt/share
mkdir -p $SHARE
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,access=any share $SHARE; then
  echo "wlcap-init: FATAL: cannot mount 9p share" ; halt_now
fi
# virtio_gpu first so that it usually gets card0; tests should still look the
# driver up in /sys/class/drm/card*/device/driver rather than trust the number.
modprobe virtio_gpu || echo "wlcap-init: modprobe virtio_gpu failed"
modprobe vgem || echo "wlcap-init: modprobe vgem failed"
echo "wlcap-init: drm modules loaded at $(cut -d' ' -f1 /proc/uptime)s"
# wait (max 5 s) for the virtio-gpu KMS card to appear
i=0; while [ $i -lt 50 ] && ! ls /dev/dri/card* >/dev/null 2>&1; do sleep 0.1; i=$((i+1)); done
# No udevd runs: apply the permissions Debian's udev rules would give, so that an
# unprivileged user (wl, in groups video+render) can use the nodes.
chgrp video /dev/dri/card* 2>/dev/null; chmod 0660 /dev/dri/card* 2>/dev/null
chgrp render /dev/dri/renderD* 2>/dev/null; chmod 0666 /dev/dri/renderD* 2>/dev/null
# test-VM convenience (udev would give udmabuf to group kvm): let wl allocate too
chmod 0666 /dev/udmabuf /dev/dma_heap/system 2>/dev/null

cut -d' ' -f1 /proc/uptime > $SHARE/guest-uptime-at-start
rm -f $SHARE/exit-status
export WLCAP_SHARE=$SHARE
if [ -f $SHARE/guest-run.sh ]; then
  echo "wlcap-init: running guest-run.sh"
  ( cd $SHARE && sh ./guest-run.sh; echo $? > /run/guest-rc ) 2>&1 | tee $SHARE/guest.log
  rc=$(cat /run/guest-rc 2>/dev/null || echo 126)
else
  echo "wlcap-init: no guest-run.sh in share" | tee $SHARE/guest.log
  rc=127
fi
cut -d' ' -f1 /proc/uptime > $SHARE/guest-uptime-at-end
echo "$rc" > $SHARE/exit-status
echo "wlcap-init: guest-run.sh exit status $rc, powering off"
sync; umount $SHARE 2>/dev/null
halt_now
