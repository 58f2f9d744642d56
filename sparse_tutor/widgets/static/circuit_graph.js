// Circuit graph: the circuit drawn layer by layer (one row per node location), edges coloured by the sign of
// their weight and drawn as wide as its magnitude. Clicking a node selects it (the synced `selected` trait);
// the Python side answers with `info` (the tokens that activate the node most).
const KIND_COLOURS = {attn_in: "#8c8c8c", q: "#1f77b4", k: "#17becf", v: "#2ca02c", attn_out: "#555555",
                      mlp_in: "#8c8c8c", mlp: "#ff7f0e", mlp_out: "#555555"};
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function render({ model, el: root }) {
  const box = document.createElement("div");
  box.className = "st-circuit-graph";
  const title = document.createElement("div");
  title.className = "st-cg-title";
  const svgHost = document.createElement("div");
  const info = document.createElement("div");
  info.className = "st-cg-info";
  box.append(title, svgHost, info);
  root.appendChild(box);

  function draw() {
    const nodes = model.get("nodes"), edges = model.get("edges"), rows = model.get("rows");
    const W = model.get("width"), H = Math.max(160, 46 * rows.length + 30), padL = 110, padR = 16;
    title.textContent = model.get("title");
    svgHost.innerHTML = "";
    const svg = el("svg", {width: W, height: H, viewBox: `0 0 ${W} ${H}`}, svgHost);
    const X = (x) => padL + x * (W - padL - padR);
    const Y = (r) => H - 20 - r * 46;
    rows.forEach((name, r) => {
      el("line", {x1: padL - 6, x2: W - padR, y1: Y(r), y2: Y(r), stroke: "#eee"}, svg);
      const t = el("text", {x: 4, y: Y(r) + 4, "font-size": 11, fill: "#444"}, svg);
      t.textContent = name;
    });
    const pos = {};
    for (const n of nodes) pos[n.id] = [X(n.x), Y(n.row)];
    const wmax = Math.max(1e-9, ...edges.map((e) => Math.abs(e.w || 0)));
    for (const e of edges) {
      const [a, b] = [pos[e.s], pos[e.t]];
      if (!a || !b) continue;
      const resid = e.w === null || e.w === undefined;
      el("line", {x1: a[0], y1: a[1], x2: b[0], y2: b[1],
                  stroke: resid ? "#bbb" : (e.w > 0 ? "#3b6fb6" : "#c0392b"),
                  "stroke-width": resid ? 0.6 : 0.4 + 2.6 * Math.abs(e.w) / wmax,
                  "stroke-dasharray": resid ? "3 3" : "none", opacity: 0.7}, svg);
    }
    const sel = model.get("selected");
    for (const n of nodes) {
      const [x, y] = pos[n.id];
      const c = el("circle", {"data-node": n.id, cx: x, cy: y, r: n.id === sel ? 7 : 5,
                              fill: KIND_COLOURS[n.kind] || "#999", stroke: n.id === sel ? "#000" : "#fff",
                              "stroke-width": n.id === sel ? 2 : 1, style: "cursor: pointer"}, svg);
      const tip = el("title", {}, c);
      tip.textContent = n.id;
      c.addEventListener("click", () => { model.set("selected", n.id); model.save_changes(); });
    }
  }
  function showInfo() {
    info.innerHTML = model.get("info") || "<i>click a node to see the tokens that activate it most</i>";
  }
  draw(); showInfo();
  model.on("change:selected", draw);
  model.on("change:nodes", draw);
  model.on("change:edges", draw);
  model.on("change:info", showInfo);
}

export default { render };
