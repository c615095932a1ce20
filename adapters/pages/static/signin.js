// Sign-in: the host application opens /signin#token=<JWT>. The fragment never reaches a
// server; this script hands the token over once in a POST body, removes it from the
// address bar and history, and sends the browser's time zone along.
(function () {
  "use strict";
  var tz = document.getElementById("signin-tz");
  try { tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { tz.value = ""; }
  var params = new URLSearchParams(location.hash.slice(1));
  var token = params.get("token");
  if (!token) { return; }
  history.replaceState(null, "", location.pathname + location.search);
  document.getElementById("signin-status").textContent = "Signing you in…";
  document.getElementById("token").value = token;
  document.getElementById("signin-form").submit();
})();
