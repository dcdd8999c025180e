"""Device credentials the broker enforces: stations keeps Mosquitto's dynamic security
plugin in step with its database (the database is the source of truth).

- `accounts.py`: what each account may do (roles and ACLs), as plugin commands.
- `control.py`: the admin connection that sends commands over `$CONTROL/dynamic-security/v1`.
- `sync.py`: pushes one device after a change, and resynchronises everything on start, after
  each reconnect and periodically.
"""
