#!/bin/sh
# documents.sh: the marketplace's own label documents (tests/fixtures/docs) printed on a Zebra two ways, side
# by side: the CUPS chain (cupsfilter -e with the Zebra ZPL PPD built from CUPS's sample.drv: pdftopdf ->
# gstoraster -> rastertolabel) and `labeld render DOC.pdf -f zpl --tracking TN` (draw, threshold, read every
# 1D code back, prove the tracking number, encode). Both outputs are drawn by an independent ZPL interpreter
# (zpl-renderer-js, tests/zpl/render.js) and read with zbarimg: does the tracking number still scan?
#
#   packaging/bench/documents.sh [OUT_DIR]   # OUT_DIR/documents.md, raw outputs in OUT_DIR/documents/
#
# packaging/bench.sh runs it; alone it builds labeld (release) first. BENCH_RUNS (default 10) repetitions.
# Needs: cupsfilter ppdc gs (cups cups-ppdc cups-filters ghostscript), zbarimg (zbar-tools), node with
# tests/zpl's node_modules (npm ci in tests/zpl), python3, jq.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
out=${1:-${BENCH_OUT:-$root/target/bench}}
runs=${BENCH_RUNS:-10}
docs=$root/tests/fixtures/docs

missing=
for tool in cupsfilter ppdc gs zbarimg node jq python3; do
    command -v "$tool" >/dev/null || missing="$missing $tool"
done
[ -d "$root/tests/zpl/node_modules/zpl-renderer-js" ] || missing="$missing zpl-renderer-js(npm ci in tests/zpl)"
if [ -n "$missing" ]; then
    echo "documents.sh: missing:$missing" >&2
    exit 2
fi

mkdir -p "$out/documents"
cd "$out/documents"
log() { printf '%s documents: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
. "$here/common.sh"  # median, ratio, timed, zebra_ppd
# median_cpu N CMD...: one warm-up run, then the median CPU ms of N runs.
median_cpu() {
    n=$1
    shift
    "$@"
    i=0
    while [ "$i" -lt "$n" ]; do timed "$@" | cut -d" " -f2; i=$((i + 1)); done | median
}
# scans ZPL DPI TN: "yes" when zbarimg reads TN from the ZPL as the independent interpreter draws it.
scans() {
    dpmm=$(( $2 == 300 ? 12 : 8 ))
    node "$root/tests/zpl/render.js" 101.6 152.4 "$dpmm" "$1" "$1.png" 2> "$1.render.log" || { echo "undrawable"; return; }
    if zbarimg -q --raw "$1.png" 2>/dev/null | grep -qx "$3"; then echo yes; else echo "**no**"; fi
}

if [ -z "${LABELD_BIN:-}" ]; then
    log "build (release; not timed)"
    (cd "$root" && cargo build --release --locked -q)
fi
B=${LABELD_BIN:-$root/target/release/labeld}

ppd=$(zebra_ppd "$PWD/ppd")

# The PDFs labeld prints on a 4x6 in label without fit = "scale" (the same set as benches/documents.rs).
jq -r 'to_entries[] | select(.key | endswith(".pdf")) | select(.key != "a5-label.pdf" and .key != "letter.pdf" and .key != "thin-bars.pdf") | "\(.key) \(.value)"' \
    "$docs/manifest.json" > fixtures.txt

: > rows.txt
for dpi in 203 300; do
    while read -r file tn; do
        name=${file%.pdf}-$dpi
        log "$file at $dpi dpi"
        set -- cupsfilter -e -p "$ppd" -m printer/foo -o PageSize=w288h432 -o "Resolution=${dpi}dpi" "$docs/$file"
        "$@" > "$name.cups.zpl" 2> "$name.cups.log"
        c_cpu=$(median_cpu "$runs" sh -c "$* > /dev/null 2>&1")
        set -- "$B" render "$docs/$file" -f zpl --dpi "$dpi" --tracking "$tn" -o "$name.labeld.zpl"
        "$@" 2> "$name.labeld.log"
        l_cpu=$(median_cpu "$runs" sh -c "$* 2> /dev/null")
        c_bytes=$(stat -c %s "$name.cups.zpl")
        l_bytes=$(stat -c %s "$name.labeld.zpl")
        echo "$dpi $file $c_cpu $l_cpu $c_bytes $l_bytes $(scans "$name.cups.zpl" "$dpi" "$tn") $(scans "$name.labeld.zpl" "$dpi" "$tn")" >> rows.txt
    done < fixtures.txt
done

chain=$(cupsfilter -e --list-filters -p "$ppd" -m printer/foo "$docs/a6-label.pdf" 2>/dev/null | tr '\n' ' ' | sed 's/ *$//; s/ / → /g')
{
    echo "#### Marketplace documents: CUPS against labeld, per document, median CPU of $runs runs"
    echo
    echo "CUPS: \`cupsfilter -e\` with the Zebra ZPL PPD from sample.drv, 4×6 in (\`PageSize=w288h432\`): \`$chain\`."
    echo "labeld: one \`labeld render DOC.pdf -f zpl --dpi D --tracking TN\` process (start-up included): draw,"
    echo "threshold, read every 1D code back, prove the tracking number, encode. CPU is user + sys of the process"
    echo "and its children. \"Scans\": zbarimg reads the tracking number from the ZPL as zpl-renderer-js draws it."
    echo
    echo "| dpi | document | CUPS CPU ms | labeld CPU ms | CUPS ÷ labeld CPU | CUPS bytes | labeld bytes | scans (CUPS / labeld) |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    while read -r dpi file cc lc cb lb cs ls; do
        echo "| $dpi | $file | $cc | $lc | $(ratio "$cc" "$lc")× | $cb | $lb | $cs / $ls |"
    done < rows.txt
    echo
    for dpi in 203 300; do
        awk -v d="$dpi" '$1 == d { cc += $3; lc += $4; cb += $5; lb += $6; n++; if ($7 != "yes") cf++; if ($8 != "yes") lf++ }
            END { printf "%d dpi, all %d documents: CUPS %.0f ms CPU, %d bytes; labeld %.0f ms CPU, %d bytes: %.1f× less CPU, %.2f× the bytes; tracking number unreadable in %d CUPS outputs, %d labeld outputs.\n\n", d, n, cc, cb, lc, lb, cc / lc, lb / cb, cf, lf }' rows.txt
    done
} > "$out/documents.md"
log "done: $out/documents.md"
