# common.sh: what the bench scripts share. Sourced (`. "$here/common.sh"`), never run.

# median: the middle of the numbers on stdin, one a line (the lower of the two middles of an even count).
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# ratio A B: A / B with two decimals below 10, none above.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "n/a"; else if (a / b < 10) printf "%.2f", a / b; else printf "%.0f", a / b }'; }

# timed CMD...: one run of CMD; prints "wall_ms cpu_ms", CPU being user + sys of CMD and every child it waited
# for, to a tenth of a millisecond (/usr/bin/time counts in hundredths of a second, a tenth of a one-shot
# command). Counted from before CMD starts: what the interpreter's own launcher waited for (a pyenv shim's
# helpers, some 70 ms) stays out. CMD's stdout goes to stderr so it never mixes with the figures; a failing
# CMD fails the bench.
timed() {
    python3 -c 'import resource, subprocess, sys, time
cpu = lambda r: r.ru_utime + r.ru_stime
before = cpu(resource.getrusage(resource.RUSAGE_CHILDREN))
t0 = time.perf_counter()
code = subprocess.call(sys.argv[1:], stdout=sys.stderr)
if code:
    sys.exit("timed: %s exited %d" % (" ".join(sys.argv[1:])[:200], code))
wall = time.perf_counter() - t0
print("%.1f %.1f" % (wall * 1000, (cpu(resource.getrusage(resource.RUSAGE_CHILDREN)) - before) * 1000))' "$@"
}

# zebra_ppd DIR: the "Zebra ZPL Label Printer" PPD built by ppdc from CUPS's own sample.drv into DIR; prints
# its path. The CUPS chain of every comparison runs this PPD's filters.
zebra_ppd() {
    rm -rf "$1" && ppdc -d "$1" /usr/share/cups/drv/sample.drv 2>/dev/null
    grep -q '^\*ModelName: "Zebra ZPL Label Printer"' "$1/zebra.ppd" || { echo "$1/zebra.ppd is not the Zebra ZPL PPD" >&2; return 1; }
    echo "$1/zebra.ppd"
}
