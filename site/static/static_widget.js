// Draws an anywidget in a page without a kernel: the widget's own ES module renders into the element with id `host`,
// from the JSON state the kernel exported (in the element's <script type="application/json">). The model stands in
// for the kernel's side: get/set/on work in the page, save_changes sends nothing, so what the Python side would
// compute after a click (e.g. the circuit graph's token list for a node) is not computed: the page says so instead.
const NEEDS_KERNEL = (node) => `<b>${node}</b>: the tokens that activate it most are computed by the lesson's ` +
  'kernel. Open the lesson on Binder (the link at the top of the page) to see them.';

export function renderStatic(widget, host) {
  const el = document.getElementById(host);
  const state = JSON.parse(el.querySelector('script[type="application/json"]').textContent);
  const listeners = {};
  const model = {
    get: (key) => state[key],
    set: (key, value) => {
      state[key] = value;
      for (const cb of listeners[`change:${key}`] || []) cb();
    },
    on: (name, cb) => { (listeners[name] = listeners[name] || []).push(cb); },
    off: (name, cb) => { listeners[name] = (listeners[name] || []).filter((f) => f !== cb); },
    save_changes: () => {
      if ('info' in state && state.selected) model.set('info', NEEDS_KERNEL(state.selected));
    },
    send: () => {},
  };
  const impl = typeof widget === 'function' ? widget() : widget;
  if (impl.initialize) impl.initialize({ model });
  impl.render({ model, el });
}
