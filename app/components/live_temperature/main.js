// Streamlit's component protocol (streamlit-component-lib), without a build step: "componentReady"
// once, "render" with the arguments, "setComponentValue" when the slider is released.
const send = (type, extra) => window.parent.postMessage({isStreamlitMessage: true, type, ...extra}, "*");
const slider = document.getElementById("slider"), bars = document.getElementById("bars");
const ROW = 15, LABEL = 72;
let args = null;
window.frameTimes = [];

function draw() {
  // Exact over the whole vocabulary: p = exp(logit / T - log Z(T)), with log Z and the entropy
  // computed on the server for every position the slider can take.
  const position = Math.round((Number(slider.value) - args.low) / args.step);
  const temperature = args.low + position * args.step;
  const logZ = args.log_z[position], width = bars.clientWidth || 300;
  document.getElementById("value").textContent = temperature.toFixed(2);
  document.getElementById("figure").textContent = args.figure.replace("{entropy}", args.entropy_bits[position].toFixed(3));
  const greedy = logZ === null;  // T = 0: the largest logit alone
  const rows = args.rows.map(row => ({label: row.label,
    p: greedy ? Number(row.logit === args.greedy_max) : Math.exp(row.logit / temperature - logZ)}));
  bars.setAttribute("height", rows.length * ROW);
  bars.innerHTML = rows.map((row, index) => {
    const length = Math.sqrt(row.p) * (width - LABEL - 4);  // the charts' square-root scale
    return `<text x="${LABEL - 4}" y="${index * ROW + 11}" text-anchor="end"></text>` +
      `<rect x="${LABEL}" y="${index * ROW + 2}" width="${length.toFixed(1)}" height="${ROW - 4}" fill="#3b6fb6" data-p="${row.p}"></rect>`;
  }).join("");
  bars.querySelectorAll("text").forEach((text, index) => { text.textContent = rows[index].label; });  // text, never markup
}

window.addEventListener("message", event => {
  if (event.data.type !== "streamlit:render") return;
  const first = args === null;
  args = event.data.args;
  document.getElementById("label").textContent = args.label;
  Object.assign(slider, {min: args.low, max: args.high, step: args.step});
  if (first || !slider.matches(":active")) slider.value = args.value;
  draw();
  send("streamlit:setFrameHeight", {height: document.body.scrollHeight});
});
// Each move: redrawn at once; how long from the input event to the next frame is kept for the
// latency benchmark (benchmarks/drag_latency.py).
slider.addEventListener("input", event => {
  draw();
  requestAnimationFrame(() => window.frameTimes.push(performance.now() - event.timeStamp));
});
slider.addEventListener("change", () => send("streamlit:setComponentValue", {value: Number(slider.value), dataType: "json"}));
send("streamlit:componentReady", {apiVersion: 1});
