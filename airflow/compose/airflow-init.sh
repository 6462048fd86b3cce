#!/usr/bin/env bash
# airflow-init: the one-off preparation of the compose stack. docker compose runs it (as root,
# see docker-compose.yml) before any other Airflow service starts, on every `make up`; each step
# is idempotent:
#
#   1. the folders the stack writes into the mounted repository exist, and the jar the Spark
#      Thrift Server of profile spark puts on its class path (seeds_loader/hive_support.py) is in
#      RR_SPARK_DIR/jars;
#   2. `airflow db migrate` on the metadata database;
#   3. the admin login of the UI: AIRFLOW_ADMIN_USER / AIRFLOW_ADMIN_PASSWORD from .env, written
#      to the simple auth manager's passwords file on the airflow-auth volume;
#   4. the dbt packages (dbt_retailrocket/scripts/install_packages.py: the hub, else the offline
#      fallback) and `dbt parse`, which writes the manifest the DAG is rendered from;
#   5. the DAG folder imports without errors and holds rr_funnel_daily.
#
# Whatever happens, the folders of step 1 are handed to AIRFLOW_UID on exit, so that the other
# services (which run as AIRFLOW_UID) and the host user can write them.
set -euo pipefail

ROOT=${RR_PROJECT_ROOT:?RR_PROJECT_ROOT is not set (docker-compose.yml sets it)}
AIRFLOW_UID=${AIRFLOW_UID:-50000}
DAG_ID=rr_funnel_daily
# Created if missing and handed to AIRFLOW_UID with everything in them: all git-ignored output.
OUTPUT_TREES=(
    data/warehouse
    data/spark-compose
    logs/reports
    logs/airflow-compose
    dbt_retailrocket/target
    dbt_retailrocket/dbt_packages
    dbt_retailrocket/logs
)
# Created if missing and handed to AIRFLOW_UID without their content (raw files may be the
# user's own download: only the folder must be writable, for `seeds_loader generate`).
OUTPUT_DIRS=(data data/raw data/raw/retailrocket logs)

step() { printf '\n[airflow-init] %s\n' "$*"; }
warn() { printf '[airflow-init] WARNING: %s\n' "$*" >&2; }
die() {
    printf '[airflow-init] ERROR: %s\n' "$*" >&2
    exit 1
}

hand_over() {
    local path
    for path in "${OUTPUT_DIRS[@]}"; do
        if [[ -d $ROOT/$path ]]; then
            chown "$AIRFLOW_UID:0" "$ROOT/$path" || warn "cannot hand $path to uid $AIRFLOW_UID"
        fi
    done
    for path in "${OUTPUT_TREES[@]}" dbt_retailrocket/package-lock.yml; do
        if [[ -e $ROOT/$path ]]; then
            chown -R "$AIRFLOW_UID:0" "$ROOT/$path" || warn "cannot hand $path to uid $AIRFLOW_UID"
        fi
    done
}

[[ -f $ROOT/dbt_retailrocket/dbt_project.yml && -f $ROOT/airflow/dags/$DAG_ID.py ]] ||
    die "the repository is not mounted under $ROOT" \
        "(expected dbt_retailrocket/ and airflow/dags/$DAG_ID.py there)"
[[ $AIRFLOW_UID =~ ^[0-9]+$ ]] || die "AIRFLOW_UID must be a number; got '$AIRFLOW_UID'"
[[ -n ${_AIRFLOW_ADMIN_USER:-} && -n ${_AIRFLOW_ADMIN_PASSWORD:-} ]] ||
    die "AIRFLOW_ADMIN_USER / AIRFLOW_ADMIN_PASSWORD are empty (set them in .env)"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?is not set (docker-compose.yml sets it)}"

repo_owner=$(stat -c %u "$ROOT/dbt_retailrocket")
if [[ $repo_owner != 0 && $repo_owner != "$AIRFLOW_UID" ]]; then
    warn "the repository belongs to uid $repo_owner but the stack runs as AIRFLOW_UID=$AIRFLOW_UID:" \
        "the files it writes (data/, logs/, dbt_retailrocket/target) will belong to uid $AIRFLOW_UID." \
        "Set AIRFLOW_UID=$repo_owner in .env (make up does so when it creates .env)."
fi

trap hand_over EXIT

step "1/5 folders under $ROOT"
for path in "${OUTPUT_DIRS[@]}" "${OUTPUT_TREES[@]}"; do
    mkdir -p "$ROOT/$path"
done
python -m seeds_loader spark jars

step "2/5 airflow db migrate"
airflow db migrate

step "3/5 admin login '${_AIRFLOW_ADMIN_USER}' for the UI"
passwords_file=$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE
mkdir -p "$(dirname "$passwords_file")"
chown "$AIRFLOW_UID:0" "$(dirname "$passwords_file")"
chmod 0700 "$(dirname "$passwords_file")"
python - "$passwords_file" <<'PY'
import json
import os
import sys

path = sys.argv[1]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w", encoding="utf-8") as handle:
    json.dump({os.environ["_AIRFLOW_ADMIN_USER"]: os.environ["_AIRFLOW_ADMIN_PASSWORD"]}, handle)
    handle.write("\n")
PY
chown "$AIRFLOW_UID:0" "$passwords_file"
chmod 0600 "$passwords_file"

step "4/5 dbt packages and dbt parse (the manifest the DAG is rendered from)"
python "$ROOT/dbt_retailrocket/scripts/install_packages.py"
(cd "$ROOT/dbt_retailrocket" && dbt parse --quiet)
[[ -s $ROOT/dbt_retailrocket/target/manifest.json ]] ||
    die "dbt parse wrote no dbt_retailrocket/target/manifest.json"

step "5/5 the DAG folder $AIRFLOW__CORE__DAGS_FOLDER imports"
python - "$DAG_ID" <<'PY'
import sys

from airflow.dag_processing.dagbag import DagBag

bag = DagBag()
for path, error in bag.import_errors.items():
    print(f"[airflow-init] import error in {path}:\n{error}", file=sys.stderr)
if bag.import_errors:
    sys.exit(1)
if sys.argv[1] not in bag.dag_ids:
    sys.exit(f"[airflow-init] ERROR: no DAG {sys.argv[1]!r} in {bag.dag_folder} (found: {sorted(bag.dag_ids)})")
print(f"[airflow-init] DAGs: {', '.join(sorted(bag.dag_ids))}")
PY

step "done: $(airflow version 2>/dev/null | tail -n 1), files handed to uid $AIRFLOW_UID"
