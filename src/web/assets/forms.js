// Sends each form once: a second click (or Enter) while the first post is on its way does nothing,
// so a double click cannot post a code twice or sign in twice; a form marked data-confirm asks first.
// Forms work without this script.
(function () {
  var forms = [];
  document.querySelectorAll('form[method="post"]').forEach(function (form) {
    var entry = { sent: false };
    forms.push(entry);
    form.addEventListener('submit', function (event) {
      if (entry.sent) {
        event.preventDefault();
        return;
      }
      // A form that cannot be undone asks first.
      if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
        event.preventDefault();
        return;
      }
      entry.sent = true;
      // A post that failed or was stopped must not leave the form dead: it may be sent again later.
      setTimeout(function () {
        entry.sent = false;
      }, 10000);
    });
  });
  // A page shown again from the back/forward cache may be sent again.
  window.addEventListener('pageshow', function () {
    forms.forEach(function (entry) {
      entry.sent = false;
    });
  });
})();
