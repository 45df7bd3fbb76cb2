#!/usr/bin/env bash
# `make test` without TESTS: the whole suite, each course notebook executed once.
#  1. the hub's images (`make test-image`: podman's build, mostly pip), then Gradescope's
#     autograder on their layers (`make test-gradescope`), in the background, beside
#  2. the Colab-like run (`make test-colab`): every notebook on Colab's versions, claims
#     included, each that passed recorded in build/notebook-runs/ (tests/colab/run.py);
#  3. pytest on everything else (tests/test_image.py left out: done in 1); a notebook with
#     a fresh record of 2 is not executed again, its claims are checked on the record
#     (tests/nbval_claims.py). Without Python 3.13 (outside CI) step 2 is left out and
#     pytest executes every notebook itself.
set -euo pipefail
cd "$(dirname "$0")/.."
make="${MAKE:-make}"
start=$(date +%s)
mkdir -p build
# In a session of its own (setsid: $! is then its process group), so that a failure below
# ends the whole build, its pytest and podman included, not make alone.
setsid "$make" --no-print-directory test-image test-gradescope > build/test-image.log 2>&1 &
image=$!
trap 'kill -- -"$image" 2>/dev/null || true' EXIT
if command -v "${COLAB_PYTHON:-python3.13}" >/dev/null 2>&1; then
    "$make" --no-print-directory test-colab
    echo "the Colab-like run took $(( $(date +%s) - start )) s"
elif [ "${CI:-}" = true ]; then
    echo "no Python 3.13 (${COLAB_PYTHON:-python3.13}) for the Colab-like run"; exit 1
else
    echo "no Python 3.13 (${COLAB_PYTHON:-python3.13}): no Colab-like run; pytest runs" \
         "every notebook"
fi
if ! wait "$image"; then
    tail -n 300 build/test-image.log
    echo "the hub's images or Gradescope's failed (make test-image test-gradescope; its" \
         "whole log: build/test-image.log)"
    exit 1
fi
grep -E "^image|^graded|^gradescope|passed|failed|skipped" build/test-image.log || true
echo "the images were done after $(( $(date +%s) - start )) s"
PYTEST_ADDOPTS="${PYTEST_ADDOPTS:-} --ignore=tests/test_image.py --ignore=tests/test_gradescope.py" \
    "$make" --no-print-directory test TESTS="tests notebooks"
echo "the whole suite took $(( $(date +%s) - start )) s"
