#!/bin/sh
# Entry point of the broker container: on the first start, create the dynamic security
# plugin's file with the admin account stations uses; then run Mosquitto. Later starts keep
# the file (it holds every account stations made since); to change the admin password, use
# `mosquitto_ctrl ... dynsec setClientPassword` and YZ_BROKER_ADMIN_PASSWORD together.
set -eu
state=/mosquitto/data/dynamic-security.json
if [ ! -f "$state" ]; then
  : "${YZ_BROKER_ADMIN_PASSWORD:?set YZ_BROKER_ADMIN_PASSWORD}"
  mosquitto_ctrl dynsec init "$state" "${YZ_BROKER_ADMIN_USERNAME:-yz.admin}" "$YZ_BROKER_ADMIN_PASSWORD"
  chown mosquitto:mosquitto "$state" 2>/dev/null || true
fi
exec /docker-entrypoint.sh mosquitto -c /mosquitto/config/mosquitto.conf
