#!/bin/sh
# Build the libFuzzer targets (clang, ASan + UBSan) and run each for a fixed budget,
# starting from the committed seeds in tests/fuzz/corpus/<target>/. Fails if any
# target crashes, leaks, trips a sanitizer or breaks one of its checked properties;
# the input that did it is kept and named. See docs/FUZZING.md.
#
#   scripts/fuzz.sh [SECONDS]      seconds per target (default 20)
#
# Environment:
#   FUZZ_BUILD_DIR   build directory (default <repo>/build-fuzz); inputs found there
#                    are kept between runs in $FUZZ_BUILD_DIR/fuzz/work/<target>
#   FUZZ_TARGETS     space-separated subset, e.g. "config importer" (default: all)
#   FUZZ_FRESH=1     forget inputs found by earlier runs (start from the seeds only)
#   CC               compiler (default clang; must be clang)
set -eu

seconds=${1:-20}
case $seconds in
'' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
cc=${CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz.sh: $cc not found (apt-get install clang)" >&2
	exit 2
fi

# The fuzz project builds only the library and the fuzzers (no test-suite packages).
echo "fuzz.sh: building fuzzers in $build"
mkdir -p "$build"
CC=$cc cmake -S "$root/tests/fuzz" -B "$build" -DTICKETSYNC_FUZZ=ON -DTICKETSYNC_WERROR=ON \
	>"$build/fuzz-configure.log" 2>&1 || { cat "$build/fuzz-configure.log" >&2; exit 2; }
cmake --build "$build" --target fuzzers -j"$(nproc)" >"$build/fuzz-build.log" 2>&1 ||
	{ tail -50 "$build/fuzz-build.log" >&2; exit 2; }

targets=${FUZZ_TARGETS:-$(cd "$build/fuzz" && ls fuzz_* | sed 's/^fuzz_//')}
mkdir -p "$build/fuzz/logs" "$build/fuzz/artifacts"
failed=""
for t in $targets; do
	bin=$build/fuzz/fuzz_$t
	if [ ! -x "$bin" ]; then
		echo "fuzz.sh: no target $t" >&2
		failed="$failed $t"
		continue
	fi
	work=$build/fuzz/work/$t
	[ "${FUZZ_FRESH:-0}" = 1 ] && rm -rf "$work"
	mkdir -p "$work"
	dict=""
	[ -f "$root/tests/fuzz/$t.dict" ] && dict="-dict=$root/tests/fuzz/$t.dict"
	log=$build/fuzz/logs/$t.log
	# -timeout: one input taking 10 s is a hang; the outer timeout only guards the
	# budget itself (libFuzzer stops on its own at max_total_time).
	set +e
	timeout $((seconds + 120)) "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$build/fuzz/artifacts/$t-" $dict \
		"$work" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	set -e
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 |
		sed -n 's/.*cov: \([0-9]*\).*corp: \([0-9]*\).*/edges \1, corpus \2/p')
	if [ "$rc" -eq 0 ]; then
		printf 'fuzz.sh: %-10s ok    %ss, %s runs, %s\n' "$t" "$seconds" "${execs:-?}" "${cov:-?}"
	else
		printf 'fuzz.sh: %-10s FAIL  exit %s after %s runs; log %s\n' "$t" "$rc" "${execs:-?}" "$log"
		grep -E 'ERROR: |FUZZ_CHECK|runtime error|SUMMARY|Test unit written|^ +#[0-9]+ 0x' "$log" |
			head -25 | sed 's/^/    /'
		failed="$failed $t"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz.sh: failed:$failed (reproduce: $build/fuzz/fuzz_<target> <input>)" >&2
	exit 1
fi
echo "fuzz.sh: all targets ran ${seconds}s without a finding"
