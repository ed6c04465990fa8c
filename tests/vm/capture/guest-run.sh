#!/bin/sh
# Runs INSIDE the guest (root, cwd = the share): builds wlcap from the checkout copy in src/, then runs
# the guest suites:
#   guest     tests/guest against sway on the virtio-gpu card (DMA-BUF, fences, ext, cursor, OBS 32)
#   desktops  tests/desktops, the compositor matrix: each compositor started by the tests themselves
# WLCAP_GUEST_SUITES picks which (default both); WLCAP_GUEST_TESTS narrows the guest suite.
set -u
. ./wlcap-vm-lib.sh
SHARE=$(pwd)
wlcap_build_checkout || exit 1
export WLCAP_GUEST=1 WLCAP_SHARE="$SHARE"
# The OBS frontend test talks to obs-websocket on 127.0.0.1; this init brings no interface up.
busybox ip link set lo up || echo "guest-run: the loopback interface did not come up"
status=0
case " ${WLCAP_GUEST_SUITES:-guest desktops} " in *" guest "*)
  wlcap_start_sway user || exit 1
  python3 -P -m pytest -q -rP -p no:cacheprovider --junitxml="$SHARE/junit.xml" ${WLCAP_GUEST_TESTS:-tests/guest} \
    || status=1
  wlcap_stop_sway ;;
esac
case " ${WLCAP_GUEST_SUITES:-guest desktops} " in *" desktops "*)
  # Every test has a deadline: a hang is a failure with the test's name.
  python3 -P -m pytest -q -rP -p no:cacheprovider --timeout=420 --junitxml="$SHARE/junit-desktops.xml" tests/desktops \
    || status=1 ;;
esac
exit $status
