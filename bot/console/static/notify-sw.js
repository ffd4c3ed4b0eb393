// Shows the queue's alerts as notifications where a page cannot (phone
// browsers only allow them through a service worker, alerts.js); a tap
// brings the console back.
"use strict";
self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({type: "window"}).then(function (windows) {
      return windows.length ? windows[0].focus() : self.clients.openWindow("/");
    })
  );
});
