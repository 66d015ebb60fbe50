#!/usr/bin/env bash
# Soak test: 2,000 labels through `labeld serve` into three virtual printers (ZPL over TCP, TSPL over a pty,
# ESC/POS over TCP paced to serial speed) while faults are injected (paper out, head open, ribbon out,
# dropped links, a printer silent on status, three SIGKILLs and a SIGTERM of the daemon, a full spool
# disk); then every tracking number is read back from the printers' PNGs with zbar. Prints the figures as
# JSON and exits 0 when nothing was lost or printed twice.
#
#   packaging/soak.sh                      # 2,000 labels, at most 10 minutes
#   packaging/soak.sh --labels 300 --minutes 2
#
# Not part of `cargo test`. Everything stays on 127.0.0.1 and a pty. Needs python3 and zbarimg
# (apt-get install zbar-tools); the full-disk fault needs root (it mounts a small tmpfs for the spool).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
command -v zbarimg >/dev/null || { echo "soak: zbarimg is missing: apt-get install zbar-tools" >&2; exit 2; }
(cd "$root" && cargo build --release --locked -q --bin labeld)
exec timeout 660 python3 "$root/packaging/soak.py" --labeld "$root/target/release/labeld" "$@"
