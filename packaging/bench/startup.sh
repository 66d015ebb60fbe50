#!/bin/sh
# startup.sh: what one-shot commands cost as whole processes, side by side with the CUPS chain on the same
# label in the same run. Every command is started as a process, start-up included, as a user or a script
# would start it: `labeld render ORDER -f zpl -o FILE`, `labeld check ORDER`, and `cupsfilter -e` with the
# Zebra ZPL PPD on the PDF of the same label (pdftopdf → gstoraster → rastertolabel).
#
#   packaging/bench/startup.sh        # Markdown on stdout; raw timings in target/bench/startup/
#
# Needs (Debian): cups cups-ppdc cups-filters ghostscript python3. bench.sh runs it as its start-up section.
# BENCH_RUNS (default 20): timed runs of each command after one warm-up each; the commands take turns, so a
# burst of load on this shared machine falls on all of them alike. LABELD: the binary (default: the
# release build, built first if missing). BENCH_OUT: the output directory.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
out=${BENCH_OUT:-$root/target/bench}/startup
runs=${BENCH_RUNS:-20}
fixtures=${LABELD_FIXTURES:-$root/tests/fixtures}
ref=$fixtures/orders/my-jnt-cod.json
printed_at=2026-11-23T09:30:00Z

for tool in cupsfilter ppdc python3; do
    command -v "$tool" >/dev/null || { echo "startup.sh: missing $tool (apt-get install cups cups-ppdc cups-filters ghostscript python3)" >&2; exit 2; }
done
B=${LABELD:-$root/target/release/labeld}
if [ -z "${LABELD:-}" ]; then
    (cd "$root" && cargo build --release --locked -q)
fi
[ -x "$B" ] || { echo "startup.sh: no labeld binary at $B" >&2; exit 2; }

rm -rf "$out" && mkdir -p "$out"
cd "$out"
. "$here/common.sh"
zebra_ppd ppd > /dev/null
"$B" render "$ref" -f pdf --printed-at "$printed_at" -o label.pdf

# One warm-up of each (it also writes the font index a first run makes), then the timed rounds. For every
# run: wall time, and CPU (user + sys) of the process and every child it waited for (cupsfilter's filters).
python3 - "$runs" "$B" "$ref" "$printed_at" <<'EOF' > timings.tsv
import os, resource, subprocess, sys, time
runs, labeld, ref, printed_at = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
commands = {
    "cups": ["cupsfilter", "-e", "-p", "ppd/zebra.ppd", "-m", "printer/foo", "-o", "PageSize=Custom.100x150mm",
             "-o", "Resolution=203dpi", "label.pdf"],
    "render": [labeld, "render", ref, "-f", "zpl", "--printed-at", printed_at, "-o", "label.zpl"],
    "check": [labeld, "check", ref],
    # The same render with no font index (a cache directory that cannot be made): every run scans the fonts.
    "render-noindex": [labeld, "render", ref, "-f", "zpl", "--printed-at", printed_at, "-o", "label-noindex.zpl"],
}
env = {"render-noindex": dict(os.environ, XDG_CACHE_HOME="/proc/labeld-no-cache")}
def once(name):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(name + ".out", "wb") as o, open(name + ".err", "wb") as e:
        code = subprocess.call(commands[name], stdout=o, stderr=e, env=env.get(name))
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if code != 0:
        sys.exit(f"startup.sh: {name} exited {code}: {open(name + '.err').read()[:300]}")
    return wall * 1000, cpu * 1000
for name in commands:
    once(name)
for i in range(runs):
    for name in commands:
        wall, cpu = once(name)
        print(f"{name}\t{wall:.2f}\t{cpu:.1f}")
EOF
cmp -s label.zpl label-noindex.zpl || { echo "startup.sh: the label differs with and without the font index" >&2; exit 1; }
head -c 3 cups.out | grep -q '~DG' || { echo "startup.sh: CUPS did not write ZPL" >&2; exit 1; }

median() { awk -F'\t' -v n="$1" -v col="$2" '$1 == n { print $col }' timings.tsv | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "n/a"; else printf "%.2f", a / b }'; }
for n in cups render check render-noindex; do
    echo "$n $(median "$n" 2) $(median "$n" 3)"
done > medians.txt
get() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' medians.txt; }
cw=$(get cups 2) cc=$(get cups 3)
# The budget of issue 15: render and check each ≤ 25 ms, and render ≤ a third of the CUPS chain (wall and CPU).
verdict() { awk -v w="$1" -v c="$2" -v cw="$cw" -v cc="$cc" -v cups="$3" 'BEGIN {
    ok = w <= 25 && c <= 25; if (cups) ok = ok && w * 3 <= cw && c * 3 <= cc; print ok ? "met" : "missed" }'; }

echo "Start-up: whole processes, median of $runs runs each after one warm-up, taking turns;"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u +%Y-%m-%dT%H:%MZ)."
echo
echo "| command | wall ms | CPU ms | ÷ CUPS (wall, CPU) | budget |"
echo "| --- | --- | --- | --- | --- |"
echo "| CUPS: \`cupsfilter -e\` Zebra ZPL PPD, label.pdf → ZPL (pdftopdf → gstoraster → rastertolabel) | $cw | $cc | 1 | |"
w=$(get render 2) c=$(get render 3)
echo "| \`labeld render my-jnt-cod.json -f zpl -o label.zpl\` | $w | $c | $(ratio "$w" "$cw"), $(ratio "$c" "$cc") | ≤ 25 ms and ≤ ⅓ of CUPS: $(verdict "$w" "$c" 1) |"
w=$(get check 2) c=$(get check 3)
echo "| \`labeld check my-jnt-cod.json\` | $w | $c | $(ratio "$w" "$cw"), $(ratio "$c" "$cc") | ≤ 25 ms: $(verdict "$w" "$c" 0) |"
w=$(get render-noindex 2) c=$(get render-noindex 3)
echo "| the same render without the font index (fonts scanned every run) | $w | $c | $(ratio "$w" "$cw"), $(ratio "$c" "$cc") | |"
