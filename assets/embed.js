/* The WEx QS award widget: <script src=".../embed.js" data-certificate="XXXX-XXXX-XXXX-XXXX" async></script>
   shows the award's live card: the very card /embed/{number} serves to an iframe, at the size
   the snippets and oEmbed suggest, so the script and the iframe show one design in the same
   words and dates. No dependencies; nothing is ever inserted as HTML. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var number = script.getAttribute("data-certificate") || "";
  var frame = document.createElement("iframe");
  frame.className = "wexqs-award";
  // Beside the script, wherever the registry is served (a host's root or a path on it).
  frame.src = new URL("embed/" + encodeURIComponent(number), script.src).href;
  frame.title = "WEx QS award, certificate " + number;
  frame.width = "EMBED_WIDTH";
  frame.height = "EMBED_HEIGHT";
  frame.style.border = "0";
  frame.style.maxWidth = "100%";
  script.parentNode.insertBefore(frame, script.nextSibling);
})();
