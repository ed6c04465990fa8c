# wlcap guest helpers. run-guest.sh copies this file into every share as
# wlcap-vm-lib.sh; a guest-run.sh uses it with:   . ./wlcap-vm-lib.sh
#
#   wlcap_drm_node DRIVER card|renderD   print the node of that driver (virtio_gpu, vgem)
#   wlcap_start_sway [user|root]         seatd + sway on the virtio-gpu card (DRM backend);
#                                        sets WAYLAND_DISPLAY SWAYSOCK XDG_RUNTIME_DIR SWAY_PID
#                                        SWAY_USER; returns non-zero if it did not come up
#   wlcap_as_sway_user CMD...            run a client as the user sway runs as
#   wlcap_stop_sway                      stop sway and seatd
#   wlcap_build_checkout                 copy the share's src/ to /tmp/wlcap, cd there, and pip-install
#                                        it into the venv /tmp/wlcap-venv (the guest's Python is not
#                                        the host's), first on PATH; takes the knobs in the share's
#                                        guest-env
#   wlcap_drm_drivers                    print "NODE DRIVER VERSION" for each DRM node (libdrm)
# Logs go to ${WLCAP_LOGDIR:-$WLCAP_SHARE}.

WLCAP_USER=wl
WLCAP_UID=1000

wlcap_drm_drivers() {  # "NODE DRIVER MAJOR.MINOR.PATCH" for each DRM node, from libdrm's drmGetVersion
  python3 - <<'EOF'
import ctypes, glob, os
class Version(ctypes.Structure):  # drmVersion, xf86drm.h
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int),
                ("name_len", ctypes.c_int), ("name", ctypes.c_char_p), ("date_len", ctypes.c_int),
                ("date", ctypes.c_char_p), ("desc_len", ctypes.c_int), ("desc", ctypes.c_char_p)]
drm = ctypes.CDLL("libdrm.so.2")
drm.drmGetVersion.restype = ctypes.POINTER(Version)
drm.drmFreeVersion.argtypes = [ctypes.POINTER(Version)]
for node in sorted(glob.glob("/dev/dri/card*") + glob.glob("/dev/dri/renderD*")):
    fd = os.open(node, os.O_RDWR)
    version = drm.drmGetVersion(fd)
    os.close(fd)
    if version:
        v = version.contents
        print(node, v.name.decode(), "%d.%d.%d" % (v.major, v.minor, v.patch))
        drm.drmFreeVersion(version)
EOF
}

wlcap_drm_node() {  # $1 driver, $2 card|renderD: the first such node of that driver
  wlcap_drm_drivers | awk -v driver="$1" -v prefix="/dev/dri/$2" \
    '$2 == driver && index($1, prefix) == 1 { print $1; found = 1; exit } END { exit !found }'
}

wlcap_as_sway_user() {
  if [ "${SWAY_USER:-user}" = root ]; then
    env XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR" WAYLAND_DISPLAY="${WAYLAND_DISPLAY:-}" SWAYSOCK="${SWAYSOCK:-}" "$@"
  else
    setpriv --reuid=$WLCAP_UID --regid=$WLCAP_UID --init-groups \
      env HOME=/home/$WLCAP_USER USER=$WLCAP_USER XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR" \
      WAYLAND_DISPLAY="${WAYLAND_DISPLAY:-}" SWAYSOCK="${SWAYSOCK:-}" "$@"
  fi
}

wlcap_start_sway() {  # $1 = user (default) | root
  SWAY_USER=${1:-user}
  _log=${WLCAP_LOGDIR:-${WLCAP_SHARE:-/tmp}}
  mkdir -p "$_log"
  export XDG_RUNTIME_DIR=/run/user/$WLCAP_UID
  mkdir -p "$XDG_RUNTIME_DIR"; chown $WLCAP_USER:$WLCAP_USER "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"
  if [ ! -S /run/seatd.sock ]; then
    seatd -u $WLCAP_USER -g $WLCAP_USER > "$_log/seatd.log" 2>&1 &
    SEATD_PID=$!
    _i=0; while [ ! -S /run/seatd.sock ] && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i+1)); done
  fi
  _card=$(wlcap_drm_node virtio_gpu card) || { echo "wlcap: no virtio_gpu card"; return 1; }
  [ -f /tmp/wlcap-sway.conf ] || { : > /tmp/wlcap-sway.conf; chmod 644 /tmp/wlcap-sway.conf; }
  _t0=$(cut -d' ' -f1 /proc/uptime)
  # a plain command in the background (no function/subshell), so $! is sway's pid
  if [ "$SWAY_USER" = root ]; then _pre=""; else _pre="setpriv --reuid=$WLCAP_UID --regid=$WLCAP_UID --init-groups"; fi
  $_pre env HOME=/home/$WLCAP_USER XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR" LIBSEAT_BACKEND=seatd WLR_BACKENDS=drm \
    WLR_DRM_DEVICES="$_card" WLR_RENDERER=gles2 WLR_LIBINPUT_NO_DEVICES=1 \
    sway -c "${WLCAP_SWAY_CONFIG:-/tmp/wlcap-sway.conf}" > "$_log/sway-$SWAY_USER.log" 2>&1 &
  SWAY_PID=$!
  _i=0; SWAYSOCK=""; _wl=""
  while [ $_i -lt 600 ]; do
    # sway-ipc.UID.PID.sock; PID differs from $! when sway runs under a wrapper (gdb)
    SWAYSOCK=$(ls -t "$XDG_RUNTIME_DIR"/sway-ipc.*.sock 2>/dev/null | head -1)
    _wl=$(ls "$XDG_RUNTIME_DIR"/wayland-[0-9] 2>/dev/null | head -1)
    [ -n "$SWAYSOCK" ] && [ -n "$_wl" ] && break
    kill -0 $SWAY_PID 2>/dev/null || break
    sleep 0.1; _i=$((_i+1))
  done
  if [ -z "$SWAYSOCK" ] || [ -z "$_wl" ]; then
    echo "wlcap: sway ($SWAY_USER) did not come up; see $_log/sway-$SWAY_USER.log"
    kill $SWAY_PID 2>/dev/null; wait $SWAY_PID 2>/dev/null
    rm -f "$XDG_RUNTIME_DIR"/sway-ipc.* "$XDG_RUNTIME_DIR"/wayland-*
    SWAY_PID=""; return 1
  fi
  WAYLAND_DISPLAY=$(basename "$_wl")
  export SWAYSOCK WAYLAND_DISPLAY SWAY_USER SWAY_PID
  WLCAP_SWAY_UP_S=$(echo "$(cut -d' ' -f1 /proc/uptime) $_t0" | awk '{printf "%.1f", $1-$2}')
  echo "wlcap: sway ($SWAY_USER, $_card) up in ${WLCAP_SWAY_UP_S}s: $WAYLAND_DISPLAY"
}

wlcap_stop_sway() {
  [ -n "${SWAY_PID:-}" ] && { kill $SWAY_PID 2>/dev/null; wait $SWAY_PID 2>/dev/null; }
  [ -n "${SEATD_PID:-}" ] && { kill $SEATD_PID 2>/dev/null; wait $SEATD_PID 2>/dev/null; }
  SWAY_PID=""; SEATD_PID=""
}

wlcap_build_checkout() {
  _share=$(pwd)
  [ -f "$_share/guest-env" ] && . "$_share/guest-env"
  rm -rf /tmp/wlcap /tmp/wlcap-venv && cp -a "$_share/src" /tmp/wlcap && cd /tmp/wlcap || return 1
  # Built and installed the way scripts/setup does on the host (pip, into a venv), offline: the
  # guest's Debian packages (pywayland, cffi, numpy, pytest, setuptools) come in through
  # --system-site-packages. The OBS source must be part of the build (WLCAP_REQUIRE_OBS).
  python3 -m venv --system-site-packages /tmp/wlcap-venv || return 1
  WLCAP_REQUIRE_OBS=1 /tmp/wlcap-venv/bin/python -m pip install --no-index --no-build-isolation --no-deps . \
    > "$_share/build.log" 2>&1 || { tail -30 "$_share/build.log"; return 1; }
  # `python3` is the venv's from here on; run pytest as `python3 -P -m pytest`, so that the
  # checkout in the current folder does not hide the installed package.
  export PATH=/tmp/wlcap-venv/bin:$PATH
}
