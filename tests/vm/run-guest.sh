#!/bin/bash
# run-guest.sh — boot the cached wlcap guest under QEMU TCG and run a script in it.
#
# Usage: run-guest.sh [-t TIMEOUT_S] [-o SHARE_DIR] SCRIPT
#        run-guest.sh [-t TIMEOUT_S] SHARE_DIR        (SHARE_DIR/guest-run.sh must exist)
#
# SCRIPT is copied to SHARE_DIR/guest-run.sh (SHARE_DIR defaults to a fresh
# directory under ${WLCAP_VM_RUNS:-/tmp/wlcap-vm-runs}); any other files the
# test needs can be put in SHARE_DIR beforehand (-o). run-guest.sh also puts
# guest-lib.sh there as wlcap-vm-lib.sh (sway/seatd helpers, see that file).
# In the guest the share is /mnt/share (also $WLCAP_SHARE) and guest-run.sh
# runs as root with it as cwd.
# Afterwards SHARE_DIR holds:
#   guest.log          stdout+stderr of guest-run.sh
#   console.log        the whole serial console (kernel + init)
#   exit-status        guest-run.sh's exit status (written by the guest's init)
#   guest-uptime-at-start / -at-end   guest clock when the script started/ended
#   run-info.txt       host-side timings
# Env: WLCAP_VM_TIMEOUT (300), WLCAP_VM_SMP (2), WLCAP_VM_MEM (4096),
#      WLCAP_VM_CPU (max,-avx,-avx2,-f16c,-fma: see README.md, "CPU model"),
#      WLCAP_VM_INITRD (mini|tools), WLCAP_VM_APPEND (extra kernel args),
#      WLCAP_VM_BOOT_RETRIES (2), WLCAP_VM_ACCEL (tcg,thread=multi),
#      WLCAP_VM_RUNS, plus build-image.sh's WLCAP_VM_CACHE etc.
# Exit status: guest-run.sh's status; 77 = skipped (no qemu, archive unreachable
# while building the image); 124 = guest timed out; 125 = guest never reported.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TIMEOUT=${WLCAP_VM_TIMEOUT:-300}
SHARE=""
usage() { sed -n '2,/^set /p' "$0" | grep '^#' | cut -c3-; exit 2; }
while getopts "t:o:h" o; do
  case $o in
    t) TIMEOUT=$OPTARG ;;
    o) SHARE=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
ARG=$1

skip() { echo "skipped: $*" >&2; exit 77; }
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (apt-get install -y qemu-system-x86)"

if [ -d "$ARG" ]; then
  SHARE=$(cd "$ARG" && pwd)
  [ -f "$SHARE/guest-run.sh" ] || { echo "run-guest: $SHARE/guest-run.sh missing" >&2; exit 2; }
elif [ -f "$ARG" ]; then
  if [ -z "$SHARE" ]; then
    mkdir -p "${WLCAP_VM_RUNS:-/tmp/wlcap-vm-runs}"
    SHARE=$(mktemp -d "${WLCAP_VM_RUNS:-/tmp/wlcap-vm-runs}/run-$(date +%Y%m%d-%H%M%S)-XXXX")
  fi
  mkdir -p "$SHARE"; SHARE=$(cd "$SHARE" && pwd)
  cp "$ARG" "$SHARE/guest-run.sh"
else
  echo "run-guest: no such script or directory: $ARG" >&2; exit 2
fi

# Build or reuse the image (no-op when cached); its dir is the last stdout line.
IMG=$("$HERE/build-image.sh" | tail -1); brc=${PIPESTATUS[0]}
[ "$brc" = 0 ] || exit "$brc"
case "${WLCAP_VM_INITRD:-mini}" in
  mini) INITRD=$IMG/initrd-mini.img ;; tools) INITRD=$IMG/initrd.img ;;
  *) echo "run-guest: WLCAP_VM_INITRD must be mini or tools" >&2; exit 2 ;;
esac
for f in rootfs.img vmlinuz "$(basename "$INITRD")"; do
  [ -f "$IMG/$f" ] || { echo "run-guest: $IMG/$f missing" >&2; exit 1; }
done

rm -f "$SHARE"/exit-status "$SHARE"/guest.log "$SHARE"/console*.log "$SHARE"/guest-uptime-at-*
cp "$HERE/guest-lib.sh" "$SHARE/wlcap-vm-lib.sh"   # helpers: . ./wlcap-vm-lib.sh
chmod 0777 "$SHARE"

echo "run-guest: image $IMG, share $SHARE, timeout ${TIMEOUT}s" >&2
# QEMU 7.2 MTTCG now and then oopses the guest kernel during early boot
# ("Oops: int3" in text-poke code, ~1 boot in 10-20): when the guest dies
# before guest-run.sh started, boot again (the test itself never ran).
RETRIES=${WLCAP_VM_BOOT_RETRIES:-2}
# QEMU 7.2's TCG emulation of AVX/AVX2/F16C/FMA breaks code that uses them: with "-cpu max" llvmpipe's
# JIT code crashed OBS while it drew a terminal's DMA-BUF, and Hyprland aborted by itself. Every
# program takes its SSE paths without them.
CPU=${WLCAP_VM_CPU:-max,-avx,-avx2,-f16c,-fma}
# Two virtio-gpu cards: the tier's sway holds the first as DRM master; the second lets a test run a
# compositor of its own on a real DRM backend beside it, and kill and restart it (tests/guest/test_faults.py).
attempt=0
T0=$(date +%s.%N)
while :; do
  attempt=$((attempt + 1))
  timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
    -accel "${WLCAP_VM_ACCEL:-tcg,thread=multi}" -cpu "$CPU" -smp "${WLCAP_VM_SMP:-2}" -m "${WLCAP_VM_MEM:-4096}" \
    -kernel "$IMG/vmlinuz" -initrd "$INITRD" \
    -append "root=/dev/vda rw console=ttyS0 init=/sbin/wlcap-init panic=1 quiet loglevel=3 ${WLCAP_VM_APPEND:-}" \
    -drive "file=$IMG/rootfs.img,if=virtio,format=raw,snapshot=on" \
    -virtfs "local,path=$SHARE,mount_tag=share,security_model=none" \
    -device virtio-gpu-pci -device virtio-gpu-pci -net none \
    -display none -nographic -monitor none -serial stdio -no-reboot \
    < /dev/null > "$SHARE/console.log" 2>&1
  qrc=$?
  if [ ! -e "$SHARE/guest-uptime-at-start" ] && [ "$qrc" != 124 ] && [ "$qrc" != 137 ] \
     && [ "$attempt" -le "$RETRIES" ]; then
    mv "$SHARE/console.log" "$SHARE/console.boot-failure-$attempt.log"
    echo "run-guest: boot attempt $attempt died before guest-run.sh started ($(grep -m1 -aoE '(Oops|Kernel panic|FATAL)[^\r]*' "$SHARE/console.boot-failure-$attempt.log" | cut -c1-100)); retrying" >&2
    continue
  fi
  break
done
T1=$(date +%s.%N)
WALL=$(echo "$T1 - $T0" | awk '{split($0,a," - "); printf "%.1f", a[1]-a[2]}')

{
  echo "image=$IMG"
  echo "initrd=$INITRD"
  echo "cpu=$CPU"
  echo "qemu_exit=$qrc"
  echo "boot_attempts=$attempt"
  echo "wall_s=$WALL"
  echo "guest_uptime_at_script_start_s=$(cat "$SHARE/guest-uptime-at-start" 2>/dev/null || echo none)"
  echo "guest_uptime_at_script_end_s=$(cat "$SHARE/guest-uptime-at-end" 2>/dev/null || echo none)"
} > "$SHARE/run-info.txt"

if [ -s "$SHARE/exit-status" ]; then
  rc=$(tr -dc 0-9 < "$SHARE/exit-status")
  echo "run-guest: guest script exit status $rc (wall ${WALL}s, script started at guest uptime $(cat "$SHARE/guest-uptime-at-start" 2>/dev/null)s)" >&2
  exit "${rc:-125}"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  echo "run-guest: FAIL: guest timed out after ${TIMEOUT}s without reporting; last console lines:" >&2
  tail -15 "$SHARE/console.log" >&2; exit 124
fi
echo "run-guest: FAIL: guest never reported an exit status (qemu exit $qrc); last console lines:" >&2
tail -15 "$SHARE/console.log" >&2
exit 125
