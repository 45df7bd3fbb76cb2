#!/usr/bin/env bash
# Gradescope runs this once, as root and with network, when it builds the autograder's
# image from the zip unpacked in /autograder/source (docs/instructors.md, "Gradescope").
# The course's code goes where the grading user can read it (/opt/course, /opt/venv);
# the hidden tests and the grader's secret stay in /autograder/source, root's only.
set -euo pipefail
src=/autograder/source
py=$(command -v python3.11 || true)
if [ -z "$py" ]; then   # Gradescope's Ubuntu 22.04 base has 3.10: Ubuntu's 3.11
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q python3.11 python3.11-venv || true
    py=$(command -v python3.11 || true)
fi
if [ -z "$py" ]; then   # an image without Ubuntu's 3.11: uv's CPython build
    python3 -m pip install --quiet uv && python3 -m uv python install 3.11
    py=$(python3 -m uv python find 3.11)
fi
mkdir -p /opt/course /opt/course-data/keras/datasets
cp -r "$src/course/." /opt/course/
[ -d "$src/data" ] && cp -r "$src/data/." /opt/course-data/keras/datasets/
[ -x /opt/venv/bin/python ] || "$py" -m venv /opt/venv   # (a test image has it already)
# requirements.txt's pins as constraints; the grader's extra only
/opt/venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -c /opt/course/requirements.txt -e "/opt/course[instructor]"
# the datasets the task needs: those zipped, else Keras' download, verified either way
export KERAS_HOME=/opt/course-data/keras COURSE_DATA_DIR=/opt/course-data/keras/datasets
/opt/venv/bin/python - <<'PY'
import json
from helpers import datasets
for name in json.load(open("/autograder/source/grading/assignment.json"))["datasets"]:
    print("dataset", name, "from", datasets.load_raw(name)[1])
PY
id course-grader >/dev/null 2>&1 \
    || useradd --system --no-create-home --shell /usr/sbin/nologin course-grader
chmod -R a+rX,go-w /opt/course /opt/course-data   # (pip leaves /opt/venv readable)
chmod 700 "$src"
