// zonegate web console: refreshes the parts of a page marked data-live,
// counts down the confirm deadline and follows the events. Every page
// works without it; it only saves pressing reload. No inline script: the
// Content-Security-Policy allows this file only.
(function () {
  'use strict';

  // A refresh answered 401 means the session ended: reloading the page
  // leads to the login page with the reason.
  function checked(r) {
    if (r.status === 401) {
      window.location.reload();
      throw new Error('signed out');
    }
    if (!r.ok) {
      throw new Error('HTTP ' + r.status);
    }
    return r;
  }

  function get(url) {
    return fetch(url, { credentials: 'same-origin', cache: 'no-store', headers: { 'Accept': 'text/html' } }).then(checked);
  }

  // Parts with data-live="URL" are replaced by what URL answers, every
  // data-every seconds, and at once when a countdown in them ends.
  function refresh(el) {
    clearTimeout(el.zgTimer);
    if (el.zgBusy) {
      return;
    }
    el.zgBusy = true;
    get(el.dataset.live)
      .then(function (r) { return r.text(); })
      .then(function (html) {
        el.innerHTML = html;
        countdowns(el);
      })
      .catch(function () {})
      .finally(function () {
        el.zgBusy = false;
        el.zgTimer = setTimeout(function () { refresh(el); }, (Number(el.dataset.every) || 5) * 1000);
      });
  }

  // Countdowns: data-remaining="SECONDS" at the time the server wrote it.
  var ticking = [];

  function countdowns(root) {
    root.querySelectorAll('[data-remaining]').forEach(function (el) {
      el.zgEnd = Date.now() + Number(el.dataset.remaining) * 1000;
      ticking.push(el);
    });
  }

  function two(n) { return (n < 10 ? '0' : '') + n; }

  function words(s) {
    if (s >= 3600) {
      return Math.floor(s / 3600) + 'h ' + two(Math.floor(s / 60) % 60) + 'm ' + two(s % 60) + 's';
    }
    if (s >= 60) {
      return Math.floor(s / 60) + 'm ' + two(s % 60) + 's';
    }
    return s + 's';
  }

  function tick() {
    ticking = ticking.filter(function (el) { return document.contains(el); });
    ticking.forEach(function (el) {
      var left = Math.max(0, Math.round((el.zgEnd - Date.now()) / 1000));
      el.textContent = words(left);
      if (left === 0 && !el.zgDone) {
        el.zgDone = true;
        var live = el.closest('[data-live]');
        if (live) {
          setTimeout(function () { refresh(live); }, 1000);
        }
      }
    });
  }

  // The events table: data-since is the newest event shown; newer ones
  // are asked for with a request the gateway answers when one comes (or
  // after 25 s with none), and put on top.
  function follow(tbody) {
    get('/live/events?since=' + encodeURIComponent(tbody.dataset.since))
      .then(function (r) {
        var last = r.headers.get('X-Events-Last');
        return r.text().then(function (html) {
          if (html.trim() !== '') {
            var none = document.getElementById('no-events');
            if (none) {
              none.remove();
            }
            tbody.insertAdjacentHTML('afterbegin', html);
          }
          if (last) {
            tbody.dataset.since = last;
          }
        });
      })
      .then(function () { follow(tbody); }, function () { setTimeout(function () { follow(tbody); }, 5000); });
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('[data-live]').forEach(function (el) {
      el.zgTimer = setTimeout(function () { refresh(el); }, (Number(el.dataset.every) || 5) * 1000);
    });
    countdowns(document);
    setInterval(tick, 1000);
    var events = document.getElementById('event-rows');
    if (events) {
      follow(events);
    }
    document.documentElement.classList.add('js');
  });
}());
