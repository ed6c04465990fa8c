#!/bin/sh
# Runs INSIDE the guest (root, cwd = the share): builds wlcap from the checkout copy in src/, starts
# sway on the virtio-gpu card, and runs the guest test suite (tests/guest) against it.
set -u
. ./wlcap-vm-lib.sh
SHARE=$(pwd)
rm -rf /tmp/wlcap && cp -a "$SHARE/src" /tmp/wlcap && cd /tmp/wlcap || exit 1
# The guest's Python is Debian testing's: build the protocol modules and the cffi module in place.
python3 capture/protocols/generate.py || exit 1
python3 setup.py -q build_ext --inplace > "$SHARE/build.log" 2>&1 || { tail -30 "$SHARE/build.log"; exit 1; }
wlcap_start_sway user || exit 1
export WLCAP_GUEST=1 WLCAP_SHARE="$SHARE"
python3 -m pytest -q -rP -p no:cacheprovider --junitxml="$SHARE/junit.xml" tests/guest
status=$?
wlcap_stop_sway
exit $status
