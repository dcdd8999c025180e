"""The columns of a bulk import file (docs/registry-import.md): stations reads rows by them,
the console offers templates with them. One list, so the two cannot disagree."""

STATION_COLUMNS = (
    "id",
    "name_zh",
    "name_en",
    "district",
    "address",
    "latitude",
    "longitude",
    "host_type",
    "amenities",
    "opening_hours",
    "contact",
)
STATION_REQUIRED = ("id", "name_zh", "name_en", "district")
DEVICE_COLUMNS = ("station_id", "id", "kind", "model", "firmware")
DEVICE_REQUIRED = ("station_id", "id", "kind")
# The example row of each template (a station of the demo network's city).
STATION_EXAMPLE = (
    "CQ-NA-0101",
    "南岸区南坪驿站",
    "Nanping station",
    "南岸区",
    "南岸区南坪西路 38 号",
    "29.5283",
    "106.5605",
    "community_centre",
    "charging,water,microwave",
    "mon-fri 08:00-20:00; sat,sun 09:00-18:00",
    "023-6280 0000",
)
DEVICE_EXAMPLE = ("CQ-NA-0101", "CQ-NA-0101-K1", "kiosk", "YZ-K2", "1.4.2")
