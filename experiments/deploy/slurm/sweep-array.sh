#!/usr/bin/env bash
# One shard of a meshsim sweep per Slurm array task. Submit with as many tasks as shards:
#
#   sbatch --array=0-7 experiments/deploy/slurm/sweep-array.sh SWEEP_FILE OUT_DIR
#   # when the job has ended (sbatch --wait, or squeue shows nothing):
#   meshsim merge OUT_DIR/shard-* --out OUT_DIR/merged
#
# meshsim takes its shard from SLURM_ARRAY_TASK_ID (less SLURM_ARRAY_TASK_MIN) of
# SLURM_ARRAY_TASK_COUNT; each task writes OUT_DIR/shard-<task id>. A task that is requeued or
# resubmitted after a failure continues where it stopped (--resume). MESHSIM names the binary
# when it is not on PATH. The sweep file and OUT_DIR must be on a file system every node sees.
#SBATCH --job-name=meshsim-sweep
#SBATCH --cpus-per-task=1
#SBATCH --output=meshsim-sweep-%A_%a.log
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: sbatch --array=0-(N-1) $0 SWEEP_FILE OUT_DIR" >&2
  exit 2
fi
: "${SLURM_ARRAY_TASK_ID:?submit this script as an array job: sbatch --array=0-(N-1) ...}"
exec "${MESHSIM:-meshsim}" sweep "$1" --out "$2/shard-$SLURM_ARRAY_TASK_ID" \
  --threads "${SLURM_CPUS_PER_TASK:-1}" --resume
