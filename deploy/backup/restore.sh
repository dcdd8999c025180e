#!/bin/sh
# Restore the three databases from a folder made by backup.sh into a cluster where they do
# not exist yet (a new server, or after `DROP DATABASE`): checks the checksums, creates each
# database and restores it. Connection from PGHOST, PGPORT, PGUSER, PGPASSWORD. Stop the
# services first (docs/deploy.md); run the migrations afterwards as after any upgrade.
set -eu
folder=${1:?usage: restore.sh BACKUP_FOLDER}
(cd "$folder" && sha256sum --check --quiet SHA256SUMS)
for db in yz_stations yz_telemetry yz_bookings; do
  dump="$folder/$db.dump"
  createdb "$db"
  if pg_restore --list "$dump" | grep -q 'EXTENSION - timescaledb'; then
    # TimescaleDB's own catalog must be restored with its background workers held back.
    psql --quiet --set ON_ERROR_STOP=1 -d "$db" \
      -c 'CREATE EXTENSION IF NOT EXISTS timescaledb' -c 'SELECT timescaledb_pre_restore()'
    pg_restore --no-owner --exit-on-error -d "$db" "$dump" || {
      psql -d "$db" -c 'SELECT timescaledb_post_restore()'
      exit 1
    }
    psql --quiet --set ON_ERROR_STOP=1 -d "$db" -c 'SELECT timescaledb_post_restore()'
  else
    pg_restore --no-owner --exit-on-error -d "$db" "$dump"
  fi
  echo "restored $db"
done
