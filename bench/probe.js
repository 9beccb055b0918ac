// In-page instrumentation, installed before any page script runs (Playwright add_init_script).
// Records, on the page's own clock (performance.now(), 0 = navigation start):
//   - every WebSocket: created, open, first and last message, messages and bytes before "usable";
//   - firstWidget: the first rendered ipywidget; usable: the first frame in which the page is usable;
//   - first: the first frame showing a loaded chart (if the module has one) and a control, as the static
//     floor page (bench/floor.py) shows its module's first chart and control. An explorer's first view (the
//     HTML the page comes with, whose <select> is handed to the live widget) counts: its control works.
// "Usable" (identical on every server): at least the expected number of explorers, explorers showing a
// loaded chart <img>, radio-button widgets and textarea widgets are on the page (and, on a page that has
// widgets at all, at least one widget). The expected numbers are what the page showed once it settled.
(() => {
  const B = (window.__bench = { ws: [], usable: null, firstWidget: null, first: null, counts: null,
                                 expect: window.__benchExpect || null });
  const NativeWS = window.WebSocket;
  class BenchWS extends NativeWS {
    constructor(...args) {
      super(...args);
      const rec = { url: String(args[0]), created: performance.now(), open: null, first: null, last: null,
                    msgs: 0, bytes: 0, msgsBeforeUsable: 0, bytesBeforeUsable: 0 };
      B.ws.push(rec);
      this.addEventListener('open', () => { rec.open = performance.now(); });
      this.addEventListener('message', (e) => {
        const t = performance.now();
        const d = e.data;
        const n = typeof d === 'string' ? d.length : (d.byteLength || d.size || 0);
        if (rec.first === null) rec.first = t;
        rec.last = t; rec.msgs += 1; rec.bytes += n;
        if (B.usable === null) { rec.msgsBeforeUsable = rec.msgs; rec.bytesBeforeUsable = rec.bytes; rec.lastBeforeUsable = t; }
      });
    }
  }
  window.WebSocket = BenchWS;

  const shown = (el) => el.getClientRects().length > 0;
  B.count = () => {
    const explorers = [...document.querySelectorAll('.allies-explorer')];
    const charted = explorers.filter((e) => [...e.querySelectorAll('img')]
      .some((i) => i.complete && i.naturalWidth > 0 && shown(i))).length;
    return { explorers: explorers.length, charted,
             radios: document.querySelectorAll('.widget-radio-box').length,
             textareas: document.querySelectorAll('.widget-textarea textarea').length,
             widgets: document.querySelectorAll('.jupyter-widgets').length };
  };
  const CONTROLS = '.widget-slider .noUi-handle, .widget-toggle-button, .widget-dropdown select, '
    + '.widget-radio-box input, .allies-floor select, .allies-first-view-host select';
  const firstShown = (x) => [...document.querySelectorAll(CONTROLS)].some(shown) && !!x && (!x.chart
    || [...document.querySelectorAll('.allies-chart img')].some((i) => i.complete && i.naturalWidth > 0 && shown(i)));
  const isUsable = (c, x) => x && c.explorers >= x.explorers && c.charted >= (x.charted ?? x.explorers)
    && c.radios >= x.radios && c.textareas >= x.textareas && c.widgets >= (x.widgets || 0);

  let scheduled = false;
  const check = (ts) => {
    scheduled = false;
    if (B.usable !== null) return;
    const c = B.count();
    if (B.firstWidget === null && c.widgets > 0) B.firstWidget = ts;
    if (B.first === null && firstShown(B.expect)) B.first = ts;
    if (isUsable(c, B.expect)) { B.usable = ts; B.counts = c; }
  };
  const schedule = () => { if (!scheduled && B.usable === null) { scheduled = true; requestAnimationFrame(check); } };
  new MutationObserver(schedule).observe(document, { childList: true, subtree: true, attributes: true });
  document.addEventListener('load', schedule, true);  // images decode after the DOM change
  setInterval(schedule, 100);                           // safety net; the check itself is cheap
})();
