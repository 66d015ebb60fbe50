#!/bin/sh
# bench.sh: labeld's figures and, in the same run, the open-source paths a user would otherwise take:
# CUPS (label PDF -> Ghostscript -> rastertolabel with the Zebra ZPL PPD built from sample.drv) and
# glabels (glabels-3-batch merging the same 500 orders into a 100x150 mm template).
#
#   packaging/bench.sh            # results in target/bench/results.md (raw outputs next to it)
#
# Needs (Debian): apt-get install cups cups-ppdc cups-filters ghostscript glabels jq poppler-utils curl
# Not part of `cargo test`: it takes minutes. The first run also compiles (release build, not timed).
# packaging/bench/startup.sh alone runs only the start-up section (one-shot commands against CUPS).
# BENCH_RUNS (default 10) sets the repetitions of the per-label commands; BENCH_OUT the output dir.
# BENCH_GLABELS_CUPS=0 skips pushing glabels' 500-page PDF through CUPS (the longest step).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${BENCH_OUT:-$root/target/bench}
runs=${BENCH_RUNS:-10}
fixtures=${LABELD_FIXTURES:-$root/tests/fixtures}
ref=$fixtures/orders/my-jnt-cod.json
batch=$fixtures/batches/batch-500.jsonl
printed_at=2026-11-23T09:30:00Z

missing=
for tool in cupsfilter ppdc gs glabels-3-batch jq pdfinfo curl python3; do
    command -v "$tool" >/dev/null || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "bench.sh: missing:$missing" >&2
    echo "  apt-get install cups cups-ppdc cups-filters ghostscript glabels jq poppler-utils curl" >&2
    exit 2
fi
[ -f "$ref" ] && [ -f "$batch" ] || { echo "bench.sh: fixtures not found under $fixtures (set LABELD_FIXTURES)" >&2; exit 2; }

mkdir -p "$out"
cd "$out"
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now_ns() { date +%s%N; }
. "$here/bench/common.sh"  # median, ratio, timed, zebra_ppd
kv() { sed -n "s/^$1=//p" labeld.kv; }

# repeat N FILE CMD...: one warm-up, then N timed runs; prints "median_wall_ms median_cpu_ms".
repeat() {
    n=$1 file=$2
    shift 2
    "$@"
    : > "$file"
    i=0
    while [ "$i" -lt "$n" ]; do timed "$@" >> "$file"; i=$((i + 1)); done
    printf '%s %s\n' "$(cut -d' ' -f1 "$file" | median)" "$(cut -d' ' -f2 "$file" | median)"
}

log "machine"
{
    echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
    echo "cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
    echo "cores=$(nproc)"
    echo "mem=$(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
    echo "rustc=$(rustc --version)"
    echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "versions=$(dpkg-query -W -f='${Package} ${Version}, ' cups cups-filters ghostscript glabels 2>/dev/null | sed 's/, $//')"
} > machine.txt

log "build (release; not timed)"
(cd "$root" && cargo build --release --locked -q && cargo bench --locked -q --no-run --bench figures --bench http 2>/dev/null)
B=$root/target/release/labeld

# ---------------------------------------------------------------- labeld, in process
log "labeld figures (benches/figures.rs)"
(cd "$root" && cargo bench --locked -q --bench figures -- --kv "$out/labeld.kv") > labeld-figures.md
log "HTTP submit -> first byte (benches/http.rs)"
(cd "$root" && cargo bench --locked -q --bench http) > http.txt

# ---------------------------------------------------------------- labeld, the real daemon
log "daemon: resident memory idle and during a 500-label batch"
rm -rf daemon && mkdir -p daemon/printed
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
vp_port=$(free_port)
api=127.0.0.1:$(free_port)
"$B" virtual-printer --lang zpl --listen "127.0.0.1:$vp_port" --save daemon/printed > daemon/vp.log 2>&1 &
vp_pid=$!
cat > daemon/labeld.toml <<EOF
[server]
listen = "$api"
[spool]
path = "spool.db"
[[printer]]
name = "dock-1"
driver = "zebra-zd421-203"
uri = "tcp://127.0.0.1:$vp_port"
EOF
RUST_LOG=warn "$B" serve --config daemon/labeld.toml > daemon/serve.log 2>&1 &
serve_pid=$!
trap 'kill $serve_pid $vp_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://$api/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
sleep 2
rss() { sed -n "s/^$1:\s*\([0-9]*\) kB/\1/p" /proc/"$serve_pid"/status; }
idle_kb=$(rss VmRSS)
jq -sc '{printer: "dock-1", kind: "label", orders: .}' "$batch" > daemon/batch.json
n_batch=$(jq -s length "$batch")
t0=$(now_ns)
code=$(curl -s -o daemon/submit.json -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @daemon/batch.json "http://$api/v1/jobs")
t_ack=$(now_ns)
[ "$code" = 202 ] || { echo "bench.sh: batch submit answered $code: $(head -c 300 daemon/submit.json)" >&2; exit 1; }
peak_kb=0
deadline=$(( $(date +%s) + 300 ))
while :; do
    cur=$(rss VmRSS)
    [ "$cur" -gt "$peak_kb" ] && peak_kb=$cur
    saved=$(find daemon/printed -name '*.png' | wc -l)
    [ "$saved" -ge "$n_batch" ] && break
    [ "$(date +%s)" -lt "$deadline" ] || { echo "bench.sh: only $saved of $n_batch labels printed in 300 s" >&2; exit 1; }
    sleep 0.05
done
t_done=$(now_ns)
hwm_kb=$(rss VmHWM)
[ "$hwm_kb" -gt "$peak_kb" ] && peak_kb=$hwm_kb
daemon_cpu=$(awk '{ printf "%.1f", ($14 + $15) / 100 }' /proc/"$serve_pid"/stat)
kill -TERM "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
kill "$vp_pid" 2>/dev/null || true
trap - EXIT
{
    echo "daemon_idle_mb=$(awk -v k="$idle_kb" 'BEGIN { printf "%.1f", k / 1024 }')"
    echo "daemon_peak_mb=$(awk -v k="$peak_kb" 'BEGIN { printf "%.1f", k / 1024 }')"
    echo "daemon_ack_s=$(awk -v a="$t0" -v b="$t_ack" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')"
    echo "daemon_batch_s=$(awk -v a="$t0" -v b="$t_done" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')"
    echo "daemon_cpu_s=$daemon_cpu"
    echo "daemon_labels=$saved"
} >> labeld.kv

# The issue-15 comparison: 100 labels as one batch, fresh daemon, printer and spool each run (bench/daemon.sh).
log "daemon: one 100-label batch, $runs runs (bench/daemon.sh)"
BENCH_OUT=$out LABELD=$B BENCH_RUNS=$runs "$here/bench/daemon.sh" 100 > daemon-100.txt
{
    med() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" daemon-100.txt | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    echo "daemon100_wall_s=$(med wall_s)"
    echo "daemon100_cpu_s=$(med labeld_cpu_s)"
    echo "daemon100_printer_cpu_s=$(med printer_cpu_s)"
} >> labeld.kv

# ---------------------------------------------------------------- start-up of one-shot commands
log "start-up: labeld render / check as whole processes, side by side with the CUPS chain (bench/startup.sh)"
BENCH_OUT=$out LABELD=$B BENCH_RUNS=$((runs * 2)) "$here/bench/startup.sh" > startup.md

# ---------------------------------------------------------------- CUPS
log "CUPS: Zebra ZPL PPD from sample.drv, PDF -> gstoraster -> rastertolabel"
ppd=$(zebra_ppd "$out/ppd")
for dpi in 203 300; do
    "$B" render "$ref" -f pdf --dpi "$dpi" --printed-at "$printed_at" -o "label-$dpi.pdf"
    # -e: the filters of the PPD, as cupsd runs them for a queue with this PPD (pdftopdf, gstoraster, rastertolabel).
    set -- cupsfilter -e -p "$ppd" -m printer/foo -o PageSize=Custom.100x150mm -o "Resolution=${dpi}dpi" "label-$dpi.pdf"
    "$@" > "cups-$dpi.zpl" 2> "cups-$dpi.log"
    echo "cups_chain=$(cupsfilter -e --list-filters -p "$ppd" -m printer/foo "label-$dpi.pdf" 2>/dev/null | tr '\n' ' ')" > cups.kv.tmp
    set -- sh -c "$* > /dev/null 2>&1"
    read -r w c <<EOF
$(repeat "$runs" "cups-$dpi.times" "$@")
EOF
    graphic=$(head -c 60 "cups-$dpi.zpl" | sed -n 's/^~DGR:CUPS.GRF,\([0-9]*\),\([0-9]*\),.*/\1 \2/p')
    {
        echo "cups_${dpi}_ms=$w"
        echo "cups_${dpi}_cpu_ms=$c"
        echo "cups_${dpi}_bytes=$(stat -c %s "cups-$dpi.zpl")"
        echo "cups_${dpi}_graphic=$(echo "$graphic" | awk '{ printf "%dx%d dots", $2 * 8, $1 / $2 }')"
    } >> cups.kv.tmp
    cat cups.kv.tmp >> cups.kv
    read -r w c <<EOF
$(repeat "$runs" "labeld-cli-$dpi.times" "$B" render "$ref" -f zpl --dpi "$dpi" --printed-at "$printed_at" -o "labeld-$dpi.zpl")
EOF
    { echo "cli_${dpi}_ms=$w"; echo "cli_${dpi}_cpu_ms=$c"; echo "cli_${dpi}_bytes=$(stat -c %s "labeld-$dpi.zpl")"; } >> labeld.kv
    # The same without the font index (a cache directory that cannot be made): every run scans the fonts.
    read -r w c <<EOF
$(repeat "$runs" "labeld-cli-noindex-$dpi.times" env XDG_CACHE_HOME=/proc/labeld-no-cache "$B" render "$ref" -f zpl --dpi "$dpi" --printed-at "$printed_at" -o "labeld-$dpi.zpl")
EOF
    { echo "cli_noindex_${dpi}_ms=$w"; echo "cli_noindex_${dpi}_cpu_ms=$c"; } >> labeld.kv
done
read -r w c <<EOF
$(repeat "$runs" "labeld-check.times" sh -c "\"$B\" check \"$ref\" > /dev/null")
EOF
{ echo "check_ms=$w"; echo "check_cpu_ms=$c"; } >> labeld.kv
rm -f cups.kv.tmp
ckv() { sed -n "s/^$1=//p" cups.kv | tail -n 1; }

# ---------------------------------------------------------------- glabels
log "glabels: 500 orders merged into a 100x150 mm template"
jq -rn -f "$here/bench/orders-to-csv.jq" "$batch" > orders.csv
set -- glabels-3-batch -i orders.csv -o glabels-500.pdf "$here/bench/label-100x150.glabels"
read -r gw gc <<EOF
$(timed sh -c "$* > glabels.log 2>&1")
EOF
gpages=$(pdfinfo glabels-500.pdf | sed -n 's/^Pages:\s*//p')
[ "$gpages" = "$n_batch" ] || { echo "bench.sh: glabels wrote $gpages pages, expected $n_batch" >&2; exit 1; }
{
    echo "glabels_ms=$gw"; echo "glabels_cpu_ms=$gc"; echo "glabels_pages=$gpages"; echo "glabels_bytes=$(stat -c %s glabels-500.pdf)"
} > glabels.kv
if [ "${BENCH_GLABELS_CUPS:-1}" != 0 ]; then
    log "glabels' 500 pages through the CUPS chain to ZPL (what printing them on a Zebra runs)"
    set -- cupsfilter -e -p "$ppd" -m printer/foo -o PageSize=Custom.100x150mm -o Resolution=203dpi glabels-500.pdf
    read -r w c <<EOF
$(timed sh -c "$* > glabels-500.zpl 2> glabels-cups.log")
EOF
    { echo "glabels_cups_ms=$w"; echo "glabels_cups_cpu_ms=$c"; echo "glabels_cups_bytes=$(stat -c %s glabels-500.zpl)"; } >> glabels.kv
fi
gkv() { sed -n "s/^$1=//p" glabels.kv; }
LABELD_BIN=$B BENCH_RUNS=$runs "$here/bench/documents.sh" "$out" # marketplace documents against CUPS: documents.md
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> machine.txt
mkv() { sed -n "s/^$1=//p" machine.txt; }

# ---------------------------------------------------------------- report
# verdict EXPR: "met" where the awk expression holds.
verdict() { awk "BEGIN { print ($1) ? \"met\" : \"**missed**\" }"; }
# smed NAME COLUMN: a median of packaging/bench/startup.sh (2 wall, 3 CPU).
smed() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' startup/medians.txt; }
log "writing $out/results.md"
{
    echo "## Run of $(mkv date)"
    echo
    echo "Machine: $(mkv cpu), $(mkv cores) cores, $(mkv mem) RAM; $(mkv os); $(mkv rustc)."
    echo "Load average (1, 5, 15 min) at start $(mkv load_start), at end $(mkv load_end): the machine is shared"
    echo "with other builds, so wall times include waiting for a core; CPU times (user + sys) do not."
    echo "Packages: $(mkv versions)."
    echo
    echo "### Against issue 15's goals"
    echo
    echo "| goal | this run | |"
    echo "| --- | --- | --- |"
    d100=$(kv daemon100_wall_s); c100=$(awk -v c="$(ckv cups_203_ms)" 'BEGIN { printf "%.2f", c * 100 / 1000 }')
    echo "| the daemon ≥ 10× the CUPS chain on 100 labels | one 100-order batch submit → 100th label saved: $d100 s (median of $runs), the CUPS chain $c100 s: $(ratio "$c100" "$d100")× | $(verdict "$c100 >= 10 * $d100") |"
    sw=$(smed render 2); sc=$(smed render 3); cw=$(smed cups 2); cc=$(smed cups 3)
    echo "| one-shot \`render\` ≤ ⅓ of the CUPS chain per label | $sw ms wall, $sc ms CPU against $cw / $cc ms: $(ratio "$sw" "$cw"), $(ratio "$sc" "$cc") (Start-up, below) | $(verdict "3 * $sw <= $cw && 3 * $sc <= $cc") |"
    pmax=$(kv wire_zpl-png_max_bytes)
    echo "| every fixture's ZPL ≤ 12 KB | PNG object (8-bit clean links, the default there) $(kv wire_zpl-png_min_bytes)–$pmax B over $(kv wire_fixtures) fixtures; \`:Z64:\` (XON/XOFF serial) $(kv wire_zpl_min_bytes)–$(kv wire_zpl_max_bytes) B | $(verdict "$pmax <= 12000") on 8-bit clean links |"
    pc=$(kv label_203_zpl-png_cpu_ms)
    echo "| render + ZPL encode ≤ 2 ms at 203 dpi | $pc ms CPU with the PNG object ($(kv label_203_zpl_cpu_ms) ms with \`:Z64:\`) | $(verdict "$pc <= 2") |"
    bc=$(kv batch_zpl_cpu_s)
    echo "| the $n_batch-order batch ≤ 2 s | pick list + $n_batch labels as PNG objects, one thread: $bc s CPU | $(verdict "$bc <= 2") |"
    echo "| bytes per label per language, with transfer times per baud rate | \"Bytes on the wire\", below | recorded |"
    echo
    echo "### labeld against CUPS, one label (reference order my-jnt-cod), median of $runs runs"
    echo
    echo "CUPS chain: \`$(ckv cups_chain | sed 's/ *$//; s/ / → /g')\` (\`cupsfilter -e\` with the Zebra ZPL PPD), from the PDF"
    echo "\`labeld render -f pdf\` makes of the same order (the PDF's own making is not counted for CUPS)."
    echo "labeld in process is the daemon's per-label cost (rules, layout, raster, barcode read-back, ZPL);"
    echo "the labeld CLI is one \`labeld render -f zpl\` process, start-up and font loading included."
    echo
    echo "| dpi | | wall ms | CPU ms | bytes to the printer | CUPS ÷ labeld (wall, CPU, bytes) |"
    echo "| --- | --- | --- | --- | --- | --- |"
    for dpi in 203 300; do
        cw=$(ckv "cups_${dpi}_ms"); cc=$(ckv "cups_${dpi}_cpu_ms"); cb=$(ckv "cups_${dpi}_bytes")
        echo "| $dpi | CUPS (rastertolabel \`~DG\`, $(ckv "cups_${dpi}_graphic")) | $cw | $cc | $cb | |"
        iw=$(kv "label_${dpi}_zpl_ms"); ic=$(kv "label_${dpi}_zpl_cpu_ms"); ib=$(kv "bytes_${dpi}_zpl")
        echo "| $dpi | labeld in process, ZPL \`:Z64:\` | $iw | $ic | $ib | $(ratio "$cw" "$iw")×, $(ratio "$cc" "$ic")×, $(ratio "$cb" "$ib")× |"
        pw=$(kv "label_${dpi}_zpl-png_ms"); pc=$(kv "label_${dpi}_zpl-png_cpu_ms"); pb=$(kv "bytes_${dpi}_zpl-png")
        echo "| $dpi | labeld in process, ZPL \`png\` | $pw | $pc | $pb | $(ratio "$cw" "$pw")×, $(ratio "$cc" "$pc")×, $(ratio "$cb" "$pb")× |"
        lw=$(kv "cli_${dpi}_ms"); lc=$(kv "cli_${dpi}_cpu_ms"); lb=$(kv "cli_${dpi}_bytes")
        echo "| $dpi | labeld CLI process, ZPL \`:Z64:\` | $lw | $lc | $lb | $(ratio "$cw" "$lw")×, $(ratio "$cc" "$lc")×, $(ratio "$cb" "$lb")× |"
        nw=$(kv "cli_noindex_${dpi}_ms"); nc=$(kv "cli_noindex_${dpi}_cpu_ms")
        echo "| $dpi | the same without the font index | $nw | $nc | $lb | $(ratio "$cw" "$nw")×, $(ratio "$cc" "$nc")× |"
    done
    echo "| | labeld \`check\` process (rules only, no label) | $(kv check_ms) | $(kv check_cpu_ms) | | $(ratio "$(ckv cups_203_ms)" "$(kv check_ms)")×, $(ratio "$(ckv cups_203_cpu_ms)" "$(kv check_cpu_ms)")× against CUPS at 203 dpi |"
    echo
    echo "#### Start-up (packaging/bench/startup.sh)"
    echo
    cat startup.md
    echo
    echo "### labeld against glabels, $n_batch orders (batch-500.jsonl)"
    echo
    echo "glabels: \`glabels-3-batch\` merging orders.csv (packaging/bench/orders-to-csv.jq) into"
    echo "packaging/bench/label-100x150.glabels (the reference layout: same boxes, fields, two Code 128), one run."
    echo "labeld: the same $n_batch orders through the rules, in one thread (benches/figures.rs, median of 3), and through"
    echo "the real daemon (\`labeld serve\`, one HTTP submit of the batch, until the virtual ZPL printer has saved"
    echo "every label; the printer decodes and writes PNGs on the same 2 cores)."
    echo
    echo "| | wall s | CPU s | output | glabels ÷ this (wall, CPU) |"
    echo "| --- | --- | --- | --- | --- |"
    gw_s=$(awk -v m="$(gkv glabels_ms)" 'BEGIN { printf "%.2f", m / 1000 }'); gc_s=$(awk -v m="$(gkv glabels_cpu_ms)" 'BEGIN { printf "%.2f", m / 1000 }')
    echo "| glabels-3-batch → $(gkv glabels_pages)-page PDF | $gw_s | $gc_s | $(gkv glabels_bytes) B | |"
    bw=$(kv batch_pdf_s); bc=$(kv batch_pdf_cpu_s)
    echo "| labeld → $n_batch-page PDF (in process) | $bw | $bc | $(kv batch_pdf_bytes) B | $(ratio "$gw_s" "$bw")×, $(ratio "$gc_s" "$bc")× |"
    zw=$(kv batch_zpl_s); zc=$(kv batch_zpl_cpu_s)
    echo "| labeld → pick list + $n_batch labels as ZPL PNG objects (in process) | $zw | $zc | $(kv batch_zpl_bytes) B of ZPL | $(ratio "$gw_s" "$zw")×, $(ratio "$gc_s" "$zc")× |"
    if [ -n "$(gkv glabels_cups_ms)" ]; then
        tw=$(awk -v a="$(gkv glabels_ms)" -v b="$(gkv glabels_cups_ms)" 'BEGIN { printf "%.2f", (a + b) / 1000 }')
        tc=$(awk -v a="$(gkv glabels_cpu_ms)" -v b="$(gkv glabels_cups_cpu_ms)" 'BEGIN { printf "%.2f", (a + b) / 1000 }')
        echo "| glabels PDF + CUPS chain → ZPL for a Zebra | $tw | $tc | $(gkv glabels_cups_bytes) B of ZPL | |"
        dw=$(kv daemon_batch_s); dc=$(kv daemon_cpu_s)
        echo "| labeld daemon: submit → $(kv daemon_labels) labels printed | $dw | $dc | | $(ratio "$tw" "$dw")×, $(ratio "$tc" "$dc")× (against glabels + CUPS) |"
    fi
    echo
    echo "### labeld's own figures"
    echo
    cat labeld-figures.md
    echo
    echo "### The daemon (\`labeld serve\`, one ZPL printer) and HTTP"
    echo
    echo "| what | figure | budget (DESIGN.md) |"
    echo "| --- | --- | --- |"
    echo "| resident memory, idle (VmRSS after start) | $(kv daemon_idle_mb) MB | ≤ 60 MB |"
    echo "| resident memory, peak during the $n_batch-label batch (max of VmRSS samples and VmHWM) | $(kv daemon_peak_mb) MB | ≤ 200 MB |"
    echo "| $n_batch-order batch: submit → 202 (spool commit of all $n_batch) | $(kv daemon_ack_s) s | |"
    echo "| $n_batch-order batch: submit → last label saved by the printer | $(kv daemon_batch_s) s ($(kv daemon_cpu_s) s CPU in labeld) | labels + pick list ready ≤ 2 s |"
    d100=$(kv daemon100_wall_s); c100=$(awk -v c="$(ckv cups_203_ms)" 'BEGIN { printf "%.2f", c * 100 / 1000 }')
    echo "| 100-order batch: submit → last label saved (median of $runs; \`packaging/bench/daemon.sh 100\`) | $d100 s ($(kv daemon100_cpu_s) s CPU in labeld, $(kv daemon100_printer_cpu_s) s in the printer); the CUPS chain at $(ckv cups_203_ms) ms a label: $c100 s, $(ratio "$c100" "$d100")× | ≥ 10× the CUPS chain |"
    echo
    echo "benches/http.rs (loopback; a byte-counting proxy in front of a virtual printer):"
    echo
    sed 's/^/    /' http.txt
    echo
    cat documents.md
} > results.md
log "done: $out/results.md"
cat results.md
