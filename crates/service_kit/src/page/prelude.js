// The part every dashboard's script shares (service_kit::page::SCRIPT_PRELUDE). The server
// writes it into the page's one nonce'd script element, ahead of the page's own code, which
// takes what it needs from `pagePrelude`. Elements are built with textContent only: nothing
// the server sends ever goes through innerHTML. `plural` and `span` say what
// service_kit::html says on the server.
const pagePrelude = (() => {
  'use strict';

  const SVG_NS = 'http://www.w3.org/2000/svg';

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svgEl(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    return node;
  }

  function plural(n, word) {
    return n + ' ' + word + (n === 1 ? '' : 's');
  }

  function span(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    if (s < 48 * 3600) return Math.floor(s / 3600) + ' h';
    return Math.floor(s / 86400) + ' d';
  }

  // GET as JSON from this origin, never from the cache; a non-2xx answer rejects.
  function fetchJson(path) {
    return fetch(path, { cache: 'no-store', headers: { Accept: 'application/json' } }).then((response) =>
      response.ok ? response.json() : Promise.reject(new Error(path + ': HTTP ' + response.status)));
  }

  return Object.freeze({ SVG_NS, el, svgEl, plural, span, fetchJson });
})();
