"""The operator console at /console/ (docs/console.md): server-rendered pages with charts.

Each page is built once (pages.py → overview.py, station_view.py, alarms_view.py) as named
tables, from figures fetched over gRPC (sources.py: telemetry and bookings own every number);
routes.py renders it as HTML, exports.py as CSV and JSON (also under /api/v1/console,
api_routes.py), live.py pushes device state as server-sent events. scope.py decides who sees
what; period.py reads the period picker; i18n.py holds the words in Chinese and English.
"""
