#!/usr/bin/env bash
# Grade assignments of the course as a Slurm job array (docs/schedulers.md):
#   deploy/slurm/submit.sh ASSIGNMENT[,ASSIGNMENT...] SHARDS [JOBS [TASKS]]
# from the course folder on a file system every node sees (submitted/ collected, the
# course installed with `make setup`). First the canary, once for the class; then the
# array, one task per shard, which starts only if the canary passed; prints the array's id.
# Each task grades its shard of each assignment in turn, into shards/<assignment>/I-of-N/:
# one array per assignment, or one for a list, merge alike. When the arrays have
# finished: `make merge-shards`. TASKS (for example 3 or 2,5) grades only those shards
# again, without the canary, which passed for the class already.
# Each job's limits come from the course's caps (instructor/workflow/shards.py,
# job_limits); other sbatch options (--partition, --account, --qos) go in SBATCH_*
# variables, which sbatch reads. The jobs get COURSE_DATA_DIR from here, as `make`
# finds it (set, or ../shared/data beside the course folder).
set -euo pipefail
cd "$(dirname "$0")/../.."
usage="usage: deploy/slurm/submit.sh ASSIGNMENT[,ASSIGNMENT...] SHARDS [JOBS [TASKS]]"
assignment=${1:?$usage}
shards=${2:?$usage}
jobs=${3:-2}
tasks=${4:-}
python=${COURSE_PYTHON:-.venv/bin/python}
data=${COURSE_DATA_DIR:-}
if [ -z "$data" ] && [ -d ../shared/data ]; then
    data=../shared/data
fi
if [ -z "$data" ] || [ ! -d "$data" ]; then
    echo "submit.sh: no data folder for the jobs (COURSE_DATA_DIR is '${data}'): export" \
        "COURSE_DATA_DIR=<the staged datasets, on a file system the nodes see>" >&2
    exit 2
fi
data=$(cd "$data" && pwd)
mkdir -p shards
# the canary grades two notebooks (the answer key, the stub): the limits of a shard of two
canary_limits=$("$python" -m instructor.workflow.shards limits --assignment "$assignment" \
    --shards "$shards" --jobs "$jobs" --per-shard 2)
limits=$("$python" -m instructor.workflow.shards limits --assignment "$assignment" \
    --shards "$shards" --jobs "$jobs")
export ASSIGNMENT=$assignment SHARDS=$shards JOBS=$jobs COURSE_DATA_DIR=$data
name=${assignment//,/+}
if [ -n "$tasks" ]; then
    exec sbatch --parsable --job-name="grade-$name" --array="$tasks" $limits \
        --export="ALL,COURSE_DATA_DIR=$data" \
        --output="shards/slurm-%A_%a.out" deploy/slurm/shard.sbatch
fi
canary=$(sbatch --parsable --job-name="canary-$name" $canary_limits \
    --export="ALL,COURSE_DATA_DIR=$data" \
    --output="shards/slurm-canary-%j.out" deploy/slurm/canary.sbatch)
sbatch --parsable --job-name="grade-$name" --dependency="afterok:$canary" \
    --kill-on-invalid-dep=yes --array="1-$shards" $limits \
    --export="ALL,COURSE_DATA_DIR=$data" \
    --output="shards/slurm-%A_%a.out" deploy/slurm/shard.sbatch
