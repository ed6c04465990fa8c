#!/bin/sh
# wlcap VM tier demo — runs INSIDE the guest (as root, cwd = the 9p share).
#  (a) /dev/dri nodes of virtio_gpu and vgem
#  (b) seatd + sway (DRM backend on the virtio-gpu card) as user "wl";
#      swaymsg get_outputs; solid #ff8000 background; grim capture checked
#  (c) python3: import pywayland, cffi; globals sway advertises
#  (d) OBS: obs --version and libobs via ctypes (obs_get_version_string)
#  (e) OBS GUI starts on Wayland/EGL against that sway (log + window + screenshot)
# Artefacts go to $WLCAP_SHARE/demo/.
set -u
SHARE=${WLCAP_SHARE:-$(pwd)}
OUT=$SHARE/demo
rm -rf "$OUT"; mkdir -p "$OUT"
FAIL=0
step() { echo; echo "=== $* (t=$(cut -d' ' -f1 /proc/uptime)s)"; }
pass() { echo "PASS: $*"; echo "PASS: $*" >> "$OUT/summary.txt"; }
fail() { echo "FAIL: $*"; echo "FAIL: $*" >> "$OUT/summary.txt"; FAIL=1; }

step "versions"
uname -r
dpkg-query -W -f '${Package} ${Version}\n' sway libwlroots-0.20 libegl-mesa0 libgbm1 libgl1-mesa-dri \
  obs-studio libobs0t64 python3 python3-pywayland python3-cffi python3-pytest seatd grim swaybg \
  libdrm2 libwayland-client0 linux-image-amd64 wayland-utils 2>/dev/null | tee "$OUT/versions.txt"
sway --version
python3 --version

# ---------------------------------------------------------------- (a)
step "(a) DRM nodes"
ls -l /dev/dri | tee "$OUT/dev-dri.txt"
. ./wlcap-vm-lib.sh            # put into the share by run-guest.sh: wlcap_drm_drivers (libdrm)
wlcap_drm_drivers | tee "$OUT/drm-drivers.txt"
KMS=$(awk '$1 ~ /card/ && $2 == "virtio_gpu" {print $1; exit}' "$OUT/drm-drivers.txt")
grep -q 'card.* virtio_gpu' "$OUT/drm-drivers.txt" && grep -q 'renderD.* virtio_gpu' "$OUT/drm-drivers.txt" \
  && pass "(a) virtio_gpu card+render node ($KMS)" || fail "(a) virtio_gpu nodes missing"
grep -q 'renderD.* vgem' "$OUT/drm-drivers.txt" && pass "(a) vgem render node" || fail "(a) vgem node missing"
ls /dev/udmabuf /dev/dma_heap/* 2>/dev/null

# ---------------------------------------------------------------- (b)
step "(b) seatd + sway on DRM backend"
export WLCAP_LOGDIR=$OUT
if wlcap_start_sway user; then SWAYUSER=user; pass "(b) sway started as unprivileged user wl via seatd (${WLCAP_SWAY_UP_S}s to sockets)"
elif wlcap_start_sway root; then SWAYUSER=root; pass "(b) sway started as root (unprivileged failed)"
else SWAYUSER=none; fail "(b) sway did not start"; fi
echo "sway_socket_s=${WLCAP_SWAY_UP_S:-none}" >> "$OUT/timings.txt"
asuser() { wlcap_as_sway_user "$@"; }

if [ $SWAYUSER != none ]; then
  asuser swaymsg -t get_version
  asuser swaymsg -t get_outputs > "$OUT/outputs.txt"; head -12 "$OUT/outputs.txt"
  asuser swaymsg -t get_outputs -r > "$OUT/outputs.json" && pass "(b) swaymsg -t get_outputs" || fail "(b) swaymsg get_outputs"
  asuser swaymsg output '*' bg '#ff8000' solid_color && pass "(b) swaymsg output * bg #ff8000" || fail "(b) swaymsg bg"
  # give the background time to draw, then capture; retry until the colour is seen
  cat > /tmp/ppmcheck.py <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
parts = d.split(maxsplit=4)          # P6 W H MAX data
assert parts[0] == b"P6", parts[0]
w, h = int(parts[1]), int(parts[2]); px = parts[4]
def at(x, y):
    o = (y * w + x) * 3; return tuple(px[o:o+3])
pts = [(w//2, h//2), (5, 5), (w-6, h-6), (w//4, 3*h//4)]
vals = [at(x, y) for x, y in pts]
n = sum(1 for i in range(0, len(px) - 2, 3 * 97) if tuple(px[i:i+3]) == (255, 128, 0))
tot = len(range(0, len(px) - 2, 3 * 97))
print("size %dx%d sample pixels %s; %d/%d sampled pixels are #ff8000" % (w, h, vals, n, tot))
sys.exit(0 if all(v == (255, 128, 0) for v in vals) else 1)
EOF
  ok=0; i=0
  while [ $i -lt 20 ]; do
    sleep 0.5; i=$((i+1))
    asuser grim -t ppm /tmp/shot.ppm 2> "$OUT/grim.err" || continue
    if python3 /tmp/ppmcheck.py /tmp/shot.ppm; then ok=1; break; fi
  done
  asuser grim /tmp/shot.png && cp /tmp/shot.png "$OUT/shot.png"
  [ $ok = 1 ] && pass "(b) grim capture shows #ff8000 background (after $i tries)" \
               || { fail "(b) grim capture colour wrong"; cat "$OUT/grim.err"; }
  file_sz=$(stat -c %s "$OUT/shot.png" 2>/dev/null); echo "shot.png: ${file_sz:-missing} bytes"
fi

# ---------------------------------------------------------------- (c)
step "(c) python: pywayland, cffi, globals"
python3 -c 'import pywayland, cffi; print("pywayland", pywayland.__version__, "cffi", cffi.__version__)' \
  && pass "(c) import pywayland, cffi" || fail "(c) import pywayland/cffi"
cat > /tmp/globals.py <<'EOF'
# List the globals the compositor advertises (pywayland registry dump).
from pywayland.client import Display
from pywayland.protocol.wayland import WlRegistry
d = Display(); d.connect()
reg = d.get_registry()
seen = []
def on_global(registry, name, interface, version):
    seen.append((name, interface, version))
reg.dispatcher["global"] = on_global
d.roundtrip()
for name, interface, version in seen:
    print("%3d %-50s v%d" % (name, interface, version))
print("%d globals" % len(seen))
d.disconnect()
EOF
if [ $SWAYUSER != none ]; then
  asuser python3 /tmp/globals.py | tee "$OUT/globals-pywayland.txt" && [ -s "$OUT/globals-pywayland.txt" ] \
    && pass "(c) pywayland registry dump ($(tail -1 "$OUT/globals-pywayland.txt"))" || fail "(c) pywayland registry dump"
  if command -v wayland-info >/dev/null; then
    asuser wayland-info > "$OUT/wayland-info.txt" 2>&1 && pass "(c) wayland-info" || fail "(c) wayland-info"
    grep -E "^interface:" "$OUT/wayland-info.txt" | head -80
  fi
  for g in zwlr_screencopy_manager_v1 zwp_linux_dmabuf_v1 ext_image_copy_capture_manager_v1 \
           ext_output_image_capture_source_manager_v1 wp_linux_drm_syncobj_manager_v1; do
    grep -q " $g " "$OUT/globals-pywayland.txt" && echo "  has $g" || echo "  MISSING $g"
  done
fi

# ---------------------------------------------------------------- (d)
step "(d) OBS"
T0=$(cut -d' ' -f1 /proc/uptime)
asuser env QT_QPA_PLATFORM=wayland timeout 120 obs --version > "$OUT/obs-version.txt" 2>&1
orc=$?
cat "$OUT/obs-version.txt" | tail -5
echo "obs --version took $(echo "$(cut -d' ' -f1 /proc/uptime) $T0" | awk '{printf "%.1f", $1-$2}') s, rc=$orc"
[ $orc = 0 ] && grep -qi 'obs' "$OUT/obs-version.txt" && pass "(d) obs --version: $(grep -i obs "$OUT/obs-version.txt" | tail -1)" \
  || fail "(d) obs --version rc=$orc"
python3 - <<'EOF' 2>&1 | tee "$OUT/libobs.txt"
import ctypes, ctypes.util, glob
cands = sorted(glob.glob("/usr/lib/x86_64-linux-gnu/libobs.so*"))
print("candidates:", cands)
lib = ctypes.CDLL(cands[0])
lib.obs_get_version_string.restype = ctypes.c_char_p
lib.obs_get_version.restype = ctypes.c_uint32
v = lib.obs_get_version()
print("libobs", lib.obs_get_version_string().decode(), "obs_get_version()=%d.%d.%d" % (v >> 24, (v >> 16) & 0xff, v & 0xffff))
EOF
grep -q '^libobs ' "$OUT/libobs.txt" && pass "(d) libobs via ctypes: $(grep '^libobs ' "$OUT/libobs.txt")" || fail "(d) libobs ctypes load"

# ---------------------------------------------------------------- (e)
step "(e) OBS GUI on Wayland/EGL against sway"
if [ $SWAYUSER != none ]; then
  T0=$(cut -d' ' -f1 /proc/uptime)
  asuser env QT_QPA_PLATFORM=wayland obs --disable-shutdown-check --disable-updater > "$OUT/obs-gui.out" 2>&1 &
  OBSPID=$!
  L=""; up=0; win=0; i=0
  while [ $i -lt 120 ]; do
    sleep 0.5; i=$((i+1))
    [ -z "$L" ] && L=$(ls /home/wl/.config/obs-studio/logs/*.txt /root/.config/obs-studio/logs/*.txt 2>/dev/null | head -1)
    [ $up = 0 ] && [ -n "$L" ] && grep -q '==== Startup complete' "$L" && { up=1; echo "OBS startup complete after $(echo "$(cut -d' ' -f1 /proc/uptime) $T0" | awk '{printf "%.1f", $1-$2}')s"; }
    if [ $up = 1 ] && asuser swaymsg -t get_tree 2>/dev/null | grep -q '"app_id": "com.obsproject.Studio"'; then
      win=1; echo "OBS window mapped after $(echo "$(cut -d' ' -f1 /proc/uptime) $T0" | awk '{printf "%.1f", $1-$2}')s"; break
    fi
    kill -0 $OBSPID 2>/dev/null || { echo "obs exited early"; break; }
  done
  [ -n "$L" ] && cp "$L" "$OUT/obs-gui.log"
  grep -E 'Platform:|Using EGL|Initialized EGL|Loading up OpenGL|OpenGL loaded|Startup complete|Failed' "$OUT/obs-gui.log" 2>/dev/null | head -12
  grep -q 'OpenGL loaded successfully' "$OUT/obs-gui.log" 2>/dev/null \
    && pass "(e) OBS on Wayland EGL: $(grep -o 'OpenGL loaded successfully.*' "$OUT/obs-gui.log" | head -1)" \
    || fail "(e) OBS OpenGL/EGL init"
  [ $up = 1 ] && pass "(e) OBS startup complete" || fail "(e) OBS startup did not complete"
  if [ $win = 1 ]; then
    sleep 3; asuser grim /tmp/obs-window.png && cp /tmp/obs-window.png "$OUT/" \
      && pass "(e) OBS window mapped in sway; screenshot demo/obs-window.png" || fail "(e) grim of OBS window"
  else
    fail "(e) OBS window not seen in sway's tree within 60s"
    asuser grim /tmp/obs-window.png && cp /tmp/obs-window.png "$OUT/"
  fi
  kill $OBSPID 2>/dev/null; sleep 1; kill -9 $OBSPID 2>/dev/null
fi

# ---------------------------------------------------------------- teardown
step "teardown"
wlcap_stop_sway
echo; echo "==== summary"; cat "$OUT/summary.txt"
exit $FAIL
