// The overview's live stream: new decisions arrive as server-sent events
// carrying one rendered table row each, newest on top.
(function () {
  var body = document.getElementById("live-rows");
  if (!body || !window.EventSource) { return; }
  var empty = document.getElementById("live-empty");
  var src = new EventSource("/ui/live");
  src.addEventListener("decision", function (ev) {
    if (empty) { empty.remove(); empty = null; }
    var t = document.createElement("tbody");
    t.innerHTML = ev.data;
    if (t.firstElementChild) { body.insertBefore(t.firstElementChild, body.firstChild); }
    while (body.children.length > 100) { body.removeChild(body.lastChild); }
  });
})();
