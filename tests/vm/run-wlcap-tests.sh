#!/bin/bash
# Host side of the DMA-BUF guest tier: copies the working tree (tracked and untracked-not-ignored
# files) into a share, boots the guest, runs tests/vm/capture/guest-run.sh there and brings back
# guest.log, junit.xml and the logs. Exit status: the guest suite's; 77 when the tier cannot run
# here (printed as "skipped: why").
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SHARE=${1:-$(mktemp -d /tmp/wlcap-vm-tests.XXXXXX)}
mkdir -p "$SHARE/src"
(cd "$REPO" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$SHARE/src"
# WLCAP_GUEST_RUN=fence-bench, damage-bench or peer-bench runs that directory's guest-run.sh (a benchmark) instead.
cp "$HERE/${WLCAP_GUEST_RUN:-capture}/guest-run.sh" "$SHARE/guest-run.sh"
# Knobs that reach the guest (wlcap_build_checkout sources guest-env there). WLCAP_GUEST_TESTS: which
# tests the capture run takes (pytest arguments, e.g. "tests/guest/test_cursor.py"); all of tests/guest by default.
# WLCAP_GUEST_SUITES: "guest", "desktops" or both (the default). LP_NATIVE_VECTOR_WIDTH: llvmpipe's, for
# the cpu-check run (tests/vm/README.md, "CPU model"). WLCAP_BENCH_MODE: the output mode of peer-bench's sway;
# WLCAP_EXPLICIT_SYNC=0: OBS without explicit sync. WLCAP_LONG_RUN_SECONDS, WLCAP_SOAK_FRAMES: longer runs.
: > "$SHARE/guest-env"
for name in WLCAP_LONG_RUN_SECONDS WLCAP_SOAK_FRAMES WLCAP_BENCH_ARGS WLCAP_BENCH_MODE WLCAP_EXPLICIT_SYNC WLCAP_GUEST_TESTS WLCAP_GUEST_SUITES \
    LP_NATIVE_VECTOR_WIDTH; do
  [ -n "${!name:-}" ] && printf 'export %s=%q\n' "$name" "${!name}" >> "$SHARE/guest-env"
done
"$HERE/run-guest.sh" -t "${WLCAP_VM_TIMEOUT:-2700}" "$SHARE"
status=$?
echo "vm tier: share $SHARE (guest.log, junit.xml, sway-user.log, desktops/)" >&2
[ -f "$SHARE/guest.log" ] && tail -25 "$SHARE/guest.log" >&2
# The compositor matrix's table, from what it measured; README.md should show the same.
if [ -f "$SHARE/desktops/results.json" ]; then
  python3 "$HERE/desktops_table.py" "$SHARE/desktops/results.json" >&2
fi
exit $status
