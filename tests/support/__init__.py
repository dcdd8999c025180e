"""What the test folders share: service processes (services.py), operators and their logins
(operators.py), MQTT clients that publish as kiosks do (mqtt.py), and polling (waiting.py)."""
