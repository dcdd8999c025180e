-- One database per service (run once by the PostgreSQL image on an empty volume).
CREATE DATABASE yz_stations;
CREATE DATABASE yz_telemetry;
CREATE DATABASE yz_bookings;
