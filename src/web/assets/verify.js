// Ticks the re-send countdowns on the verification page and enables each button when its wait is over.
(function () {
  var start = Date.now();
  var items = [];
  document.querySelectorAll('.countdown').forEach(function (hint) {
    var seconds = hint.querySelector('.seconds');
    var button = hint.parentElement.querySelector('button');
    // Counted from the server's figure, so a wrong clock on this computer does not matter.
    items.push({ hint: hint, seconds: seconds, button: button, deadline: start + Number(seconds.textContent) * 1000 });
  });
  function tick() {
    var now = Date.now();
    items = items.filter(function (item) {
      var left = Math.ceil((item.deadline - now) / 1000);
      if (left > 0) {
        item.seconds.textContent = String(left);
        return true;
      }
      item.button.disabled = false;
      item.hint.remove();
      return false;
    });
    if (items.length > 0) setTimeout(tick, 250);
  }
  tick();
})();
