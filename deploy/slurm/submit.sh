#!/usr/bin/env bash
# Grade one assignment of the course as a Slurm job array (docs/schedulers.md):
#   deploy/slurm/submit.sh ASSIGNMENT SHARDS [JOBS [TASKS]]
# from the course folder on a file system every node sees (submitted/ collected, the
# course installed with `make setup`). First the canary, once for the class; then the
# array, one task per shard, which starts only if the canary passed; prints the array's id.
# When the array has finished: `make merge-shards`. TASKS (for example 3 or 2,5) grades
# only those shards again, without the canary, which passed for the class already.
# Each job's limits come from the course's caps (instructor/workflow/shards.py,
# job_limits); other sbatch options (--partition, --account, --qos) go in SBATCH_*
# variables, which sbatch reads.
set -euo pipefail
cd "$(dirname "$0")/../.."
usage="usage: deploy/slurm/submit.sh ASSIGNMENT SHARDS [JOBS [TASKS]]"
assignment=${1:?$usage}
shards=${2:?$usage}
jobs=${3:-2}
tasks=${4:-}
python=${COURSE_PYTHON:-.venv/bin/python}
mkdir -p shards
# the canary grades two notebooks (the answer key, the stub): the limits of a shard of two
canary_limits=$("$python" -m instructor.workflow.shards limits --assignment "$assignment" \
    --shards "$shards" --jobs "$jobs" --per-shard 2)
limits=$("$python" -m instructor.workflow.shards limits --assignment "$assignment" \
    --shards "$shards" --jobs "$jobs")
export ASSIGNMENT=$assignment SHARDS=$shards JOBS=$jobs
if [ -n "$tasks" ]; then
    exec sbatch --parsable --job-name="grade-$assignment" --array="$tasks" $limits \
        --output="shards/slurm-%A_%a.out" deploy/slurm/shard.sbatch
fi
canary=$(sbatch --parsable --job-name="canary-$assignment" $canary_limits \
    --output="shards/slurm-canary-%j.out" deploy/slurm/canary.sbatch)
sbatch --parsable --job-name="grade-$assignment" --dependency="afterok:$canary" \
    --kill-on-invalid-dep=yes --array="1-$shards" $limits \
    --output="shards/slurm-%A_%a.out" deploy/slurm/shard.sbatch
