// Streamlit's component protocol (streamlit-component-lib), without a build step: "componentReady"
// once, "render" with the arguments, "setComponentValue" when a slider is released.
const send = (type, extra) => window.parent.postMessage({isStreamlitMessage: true, type, ...extra}, "*");
const bars = document.getElementById("bars"), sliders = document.getElementById("sliders");
const ROW = 15, LABEL = 72;
let args = null, logits = null, ids = null, releases = 0;
// The values the view computes at: the panel's own (which may lie between a slider's steps, from
// the URL or a model's defaults) until a slider moves, then that slider's.
let shown = null;
window.frameTimes = [];

function formatted(value, decimals) {
  const text = value.toFixed(decimals);
  return Number(text) === value ? text : String(Number(value.toPrecision(6)));
}

function draw() {
  for (const input of sliders.querySelectorAll("input")) {
    input.nextElementSibling.textContent = formatted(shown[input.name], Number(input.dataset.decimals));
  }
  const view = liveView(args, logits, ids, shown);
  const texts = args.texts;
  const figure = (view.deferred ? texts.deferred[view.deferred.reason] : texts.figure)
    .replace("{entropy}", view.bits.toFixed(3)).replace("{kept}", view.kept.toLocaleString("en"))
    .replace("{stage}", view.deferred ? view.deferred.stage : "").replace("{sent}", logits.length.toLocaleString("en"));
  document.getElementById("figure").textContent = figure;
  document.body.classList.toggle("deferred", view.deferred !== null);
  const width = bars.clientWidth || 300;
  bars.setAttribute("height", view.rows.length * ROW);
  bars.innerHTML = view.rows.map((row, index) => {
    const length = Math.sqrt(row.p) * (width - LABEL - 4);  // the charts' square-root scale
    return `<text x="${LABEL - 4}" y="${index * ROW + 11}" text-anchor="end"></text>` +
      `<rect x="${LABEL}" y="${index * ROW + 2}" width="${length.toFixed(1)}" height="${ROW - 4}" data-p="${row.p}"></rect>`;
  }).join("");
  bars.querySelectorAll("text").forEach((text, index) => { text.textContent = view.rows[index].label; });  // text, never markup
}

function build() {
  sliders.replaceChildren(...args.controls.map(control => {
    const cell = document.createElement("label"), name = document.createElement("span");
    const input = document.createElement("input"), value = document.createElement("span");
    name.textContent = control.label;
    value.className = "value";
    value.id = `${control.name}-value`;
    Object.assign(input, {type: "range", id: control.name, name: control.name, min: control.low, max: control.high,
                          step: control.step});
    input.dataset.decimals = control.step >= 1 ? 0 : 2;
    input.addEventListener("input", event => {
      shown[input.name] = Number(input.value);
      draw();
      // How long from the input event to the next frame: kept for benchmarks/drag_latency.py.
      requestAnimationFrame(() => window.frameTimes.push(performance.now() - event.timeStamp));
    });
    // Each release is a new value (``release`` is unique, across reloads of this frame too), so
    // that releasing at the value of the one before still sets the panel's control, which may
    // have moved since.
    input.addEventListener("change", () => send("streamlit:setComponentValue", {
      value: {name: input.name, value: Number(input.value), release: `${performance.timeOrigin + performance.now()}-${++releases}`}, dataType: "json"}));
    cell.append(name, input, value);
    return cell;
  }));
}

window.addEventListener("message", event => {
  if (event.data.type !== "streamlit:render") return;
  const first = args === null;
  args = event.data.args;
  logits = decode(args.logits, Float32Array);
  ids = decode(args.ids, Int32Array);
  if (first) build();
  shown = {...args.values};
  for (const input of sliders.querySelectorAll("input")) {
    if (first || !input.matches(":active")) input.value = args.values[input.name];
    else shown[input.name] = Number(input.value);  // being dragged: the slider's value stands
  }
  draw();
  send("streamlit:setFrameHeight", {height: Math.max(document.body.scrollHeight, args.height)});
});
send("streamlit:componentReady", {apiVersion: 1});
