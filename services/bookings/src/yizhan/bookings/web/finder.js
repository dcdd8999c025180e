// Progressive enhancement: with the worker's permission, reload the list nearest first.
// Without JavaScript or permission the district and search form works alone.
(function () {
  var button = document.getElementById("nearest");
  if (!button || !navigator.geolocation) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.geolocation.getCurrentPosition(function (where) {
      var lat = where.coords.latitude.toFixed(5), lng = where.coords.longitude.toFixed(5);
      window.location.assign("/stations?lat=" + lat + "&lng=" + lng);
    }, function () {
      document.getElementById("locating-failed").hidden = false;
    }, { timeout: 10000, maximumAge: 60000 });
  });
})();
