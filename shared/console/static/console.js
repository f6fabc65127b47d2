// LeadRelay console: the navigation toggle on narrow screens, and the
// charts, drawn with uPlot from each page's JSON data block
// (<script type="application/json" id="chart-data">). No inline script:
// the content security policy allows the console's own files only.
(function () {
  'use strict';
  document.documentElement.classList.add('js');

  var palette = ['#1d4ed8', '#b91c1c', '#15803d', '#7c3aed'];

  function draw(el) {
    var src = document.getElementById(el.getAttribute('data-source'));
    if (!src || typeof uPlot === 'undefined') {
      return;
    }
    var c = JSON.parse(src.textContent || '{}');
    var labels = c.labels || [];
    var series = c.series || [];
    var xs = labels.map(function (_, i) { return i; });
    var size = function () {
      return { width: Math.max(260, el.clientWidth || 600), height: 260 };
    };
    var opts = {
      width: size().width,
      height: size().height,
      scales: {
        x: { time: false, range: function () { return [-0.5, Math.max(0.5, xs.length - 0.5)]; } },
        // Money and counts start at 0 (or below it, for a loss).
        y: { range: function (u, min, max) { return [Math.min(0, min || 0), Math.max(1, (max || 0) * 1.1)]; } }
      },
      axes: [
        {
          // A label every step categories, so that labels never overlap
          // (about 56 px each).
          splits: function (u) {
            var step = Math.max(1, Math.ceil(xs.length * 56 / Math.max(1, u.width)));
            return xs.filter(function (x) { return x % step === 0; });
          },
          values: function (u, splits) { return splits.map(function (v) { return labels[v] === undefined ? '' : labels[v]; }); }
        },
        {}
      ],
      series: [{ label: c.x || '', value: function (u, v) { return v == null ? '' : (labels[v] || ''); } }].concat(series.map(function (s, i) {
        return { label: s.label, stroke: palette[i % palette.length], width: 2, points: { show: true, size: 6 } };
      }))
    };
    var data = [xs].concat(series.map(function (s) { return s.values || []; }));
    var plot = new uPlot(opts, data, el);
    var pending = false;
    window.addEventListener('resize', function () {
      if (pending) {
        return;
      }
      pending = true;
      window.requestAnimationFrame(function () {
        pending = false;
        plot.setSize(size());
      });
    });
  }

  function start() {
    var toggle = document.getElementById('nav-toggle');
    var nav = document.getElementById('nav');
    if (toggle && nav) {
      toggle.addEventListener('click', function () {
        var open = nav.classList.toggle('open');
        toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
      });
    }
    var charts = document.querySelectorAll('.chart[data-source]');
    for (var i = 0; i < charts.length; i++) {
      draw(charts[i]);
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
