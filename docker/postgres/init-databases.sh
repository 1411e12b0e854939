#!/bin/sh
# Create the MLflow and luigid databases, owned by POSTGRES_USER. The postgres image runs
# this once, when its data volume is empty.
set -eu

for database in "$MLFLOW_DATABASE" "$LUIGI_DATABASE"; do
    psql --set ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        --command "CREATE DATABASE \"$database\" OWNER \"$POSTGRES_USER\""
done
