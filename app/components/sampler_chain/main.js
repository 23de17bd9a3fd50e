// The custom order of llama.cpp's samplers as cards: drag a card (mouse, pen or touch) to move it
// in the chain, or out of it to leave it out; the arrow keys move the focused card, Delete takes it
// out, Enter puts a left-out one back. Each card in the chain shows the tokens kept and the entropy
// after it, on this panel's prompt. Streamlit's component protocol, without a build step.
const send = (type, extra) => window.parent.postMessage({isStreamlitMessage: true, type, ...extra}, "*");
const chain = document.getElementById("chain"), off = document.getElementById("off");
let args = null, changes = 0;
// The order last sent and when: until the server's rerun comes back with it (or a few seconds
// pass), a render of an older order does not undo the moves made since.
let sent = null, sentAt = 0;

function card(name) {
  const element = document.createElement("div"), title = document.createElement("div");
  element.className = "card";
  element.tabIndex = 0;
  element.dataset.name = name;
  title.className = "name";
  title.textContent = name;
  element.append(title);
  const after = args.after[name];
  if (after) {
    const figure = document.createElement("div"), bar = document.createElement("div");
    figure.className = "figure";
    figure.textContent = after.text;  // text, never markup
    bar.className = "bar";
    bar.style.width = `${100 * after.fraction}%`;
    element.append(figure, bar);
  }
  element.title = args.hints[name] || "";
  return element;
}

function render() {
  const ahead = sent !== null && performance.now() - sentAt < 3000 && JSON.stringify(sent) !== JSON.stringify(args.chain);
  if (!ahead) sent = null;
  const order = ahead ? sent : args.chain;
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.name : null;
  chain.replaceChildren(...order.map(card));
  off.replaceChildren(...args.all.filter(name => !order.includes(name)).map(card));
  const again = focused && document.querySelector(`.card[data-name="${CSS.escape(focused)}"]`);
  if (again) again.focus();  // a key moving a card keeps moving it after the rerun
  document.getElementById("title").textContent = args.texts.title;
  document.getElementById("off_title").textContent = args.texts.off;
  send("streamlit:setFrameHeight", {height: document.body.scrollHeight + 4});
}

const current = () => [...chain.children].map(element => element.dataset.name);

function commit() {
  const order = current();
  // Each change is a new value (``change`` is unique, across reloads of this frame too), so that
  // an order the picker below has moved away from can be dragged back.
  sent = order;
  sentAt = performance.now();
  send("streamlit:setComponentValue", {value: {order, change: `${performance.timeOrigin + performance.now()}-${++changes}`}, dataType: "json"});
}

// Where a card dropped at (x, y) goes: the list under the pointer, before the first card whose
// centre is after the pointer in reading order.
function place(element, x, y) {
  const target = [chain, off].find(list => {
    const box = list.getBoundingClientRect();
    return y >= box.top - 8 && y <= box.bottom + 8;
  }) || element.parentElement;
  const before = [...target.children].find(other => {
    if (other === element) return false;
    const box = other.getBoundingClientRect();
    return y < box.top || (y <= box.bottom && x < box.left + box.width / 2);
  });
  target.insertBefore(element, before || null);
}

// Moving a card in the document releases a pointer capture, so the drag listens on the document.
document.addEventListener("pointerdown", event => {
  const element = event.target.closest(".card");
  if (!element) return;
  event.preventDefault();
  element.classList.add("dragging");
  const before = JSON.stringify(current());
  const move = moved => place(element, moved.clientX, moved.clientY);
  const release = () => {
    document.removeEventListener("pointermove", move);
    document.removeEventListener("pointerup", release);
    document.removeEventListener("pointercancel", release);
    element.classList.remove("dragging");
    element.focus();
    if (JSON.stringify(current()) !== before) commit();  // a click moves nothing
  };
  document.addEventListener("pointermove", move);
  document.addEventListener("pointerup", release);
  document.addEventListener("pointercancel", release);
});

document.addEventListener("keydown", event => {
  const element = document.activeElement.closest && document.activeElement.closest(".card");
  if (!element) return;
  const list = element.parentElement;
  if (["ArrowLeft", "ArrowUp"].includes(event.key) && element.previousElementSibling) {
    list.insertBefore(element, element.previousElementSibling);
  } else if (["ArrowRight", "ArrowDown"].includes(event.key) && element.nextElementSibling) {
    list.insertBefore(element.nextElementSibling, element);
  } else if (event.key === "Delete" || event.key === "Backspace") {
    off.append(element);
  } else if (event.key === "Enter" && list === off) {
    chain.append(element);
  } else return;
  event.preventDefault();
  element.focus();
  commit();
});

window.addEventListener("message", event => {
  if (event.data.type !== "streamlit:render") return;
  args = event.data.args;
  render();
});
send("streamlit:componentReady", {apiVersion: 1});
