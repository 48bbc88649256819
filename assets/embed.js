/* The WEx QS award widget: <script src=".../embed.js" data-certificate="XXXX-XXXX-XXXX-XXXX" async></script>
   renders a live card, in a shadow root, from the registry's public verification API. No
   dependencies; nothing from the API is ever inserted as HTML. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var number = script.getAttribute("data-certificate") || "";
  var base = new URL(script.src).origin;
  var host = document.createElement("div");
  host.className = "wexqs-award";
  script.parentNode.insertBefore(host, script.nextSibling);
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var colours = { valid: "#007f3b", expired: "#425563", suspended: "#ffb81c", revoked: "#d5281b", superseded: "#330072", not_yet_valid: "#425563" };
  var words = { valid: "Valid award", expired: "Expired", suspended: "Suspended", revoked: "Revoked", superseded: "Replaced by a newer award", not_yet_valid: "Not yet valid" };
  var style = document.createElement("style");
  style.textContent = ".card{font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#212b32;border:1px solid #d8dde0;border-radius:6px;max-width:22rem;background:#fff}" +
    ".verdict{padding:.5rem .75rem;border-radius:6px 6px 0 0;color:#fff;font-weight:700;font-size:1.1rem}.body{padding:.5rem .75rem}.body p{margin:.25rem 0}a{color:#005eb8}";
  root.appendChild(style);
  var card = document.createElement("div");
  card.className = "card";
  card.setAttribute("role", "status");
  root.appendChild(card);
  function line(text, tag) { var p = document.createElement(tag || "p"); p.textContent = text; return p; }
  function show(status, title, details) {
    card.textContent = "";
    var verdict = line(title, "div");
    verdict.className = "verdict";
    verdict.style.background = colours[status] || "#d5281b";
    if (status === "suspended") { verdict.style.color = "#212b32"; }
    card.appendChild(verdict);
    var body = document.createElement("div");
    body.className = "body";
    details.forEach(function (d) { body.appendChild(d); });
    var link = document.createElement("a");
    link.href = base + "/verify/" + encodeURIComponent(number);
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "Check this award in the register";
    body.appendChild(link);
    card.appendChild(body);
  }
  show("expired", "Checking…", []);
  fetch(base + "/v1/awards/" + encodeURIComponent(number) + "/verification")
    .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
    .then(function (res) {
      if (!res.ok) { show("revoked", "Not found", [line("No award with the number " + number + " is in the register.")]); return; }
      var v = res.body, a = v.award;
      show(v.status, (v.valid ? "\u2713 " : "\u2717 ") + (words[v.status] || v.status), [
        line(a.organisation.name, "strong"),
        line("WEx QS " + a.level.charAt(0).toUpperCase() + a.level.slice(1) + " award, valid until " + a.valid_until),
        line("Certificate " + v.certificate_number + " · issued by " + a.issuer.name)
      ]);
    })
    .catch(function () { show("expired", "Cannot reach the register", [line("Try the link below.")]); });
})();
