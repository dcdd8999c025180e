// Name and phone remembered on this phone only, and only when the worker ticks the box:
// kept in the browser's localStorage, never sent anywhere but with the booking form itself.
// Without JavaScript the box stays hidden and nothing is remembered.
(function () {
  var KEY = "yz_booker";
  var form = document.getElementById("booking-form");
  var box = document.getElementById("remember");
  var phone = document.getElementById("phone"), name = document.getElementById("name");
  if (!form || !box || !phone || !name || !window.localStorage) { return; }
  document.getElementById("remember-box").hidden = false;
  var kept = null;
  try { kept = JSON.parse(localStorage.getItem(KEY) || "null"); } catch (e) { kept = null; }
  if (kept) {
    if (!phone.value) { phone.value = kept.phone || ""; }
    if (!name.value) { name.value = kept.name || ""; }
    box.checked = true;
  }
  form.addEventListener("submit", function () {
    if (box.checked) {
      localStorage.setItem(KEY, JSON.stringify({ phone: phone.value, name: name.value }));
    } else {
      localStorage.removeItem(KEY);
    }
  });
})();
