#!/bin/sh
# Back up the three databases: one pg_dump custom-format file each, in a new folder
# OUT/<UTC time>/, plus a checksum list. Connection from the usual libpq variables (PGHOST,
# PGPORT, PGUSER, PGPASSWORD). In compose (docs/deploy.md):
#   docker compose exec db sh /deploy/backup/backup.sh /backups
set -eu
out=${1:?usage: backup.sh OUT_FOLDER}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
folder="$out/$stamp"
mkdir -p "$folder"
for db in yz_stations yz_telemetry yz_bookings; do
  # Custom format: compressed, restorable table by table, and with pg_restore --list
  # readable without restoring. Written aside first, so a failed dump never looks complete.
  pg_dump --format=custom --no-owner --file="$folder/$db.dump.partial" "$db"
  mv "$folder/$db.dump.partial" "$folder/$db.dump"
done
(cd "$folder" && sha256sum ./*.dump > SHA256SUMS)
echo "$folder"
