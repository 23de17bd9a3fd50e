// What the live view computes, from what the server sends once per prompt and setting
// (app/live.py): the most likely `logits` of the panel (sorted, float32, after the logit bias and
// penalties), the number of tokens the engine can still draw (`vocab`), and log Z and the entropy
// over the whole vocabulary at every temperature the slider can take (`table`), at 1 (`unit`) and
// at the panel's own (`current`, which may lie between the slider's steps).
//
// temperature, top_k, top_p and min_p each keep a prefix of the tokens sorted by logit, so the
// state after any of them is a count of tokens kept and the temperature applied so far. The
// stages run in the engine's order (`chain`), with its rules (`engine`). llama.cpp's cuts are
// computed as it computes them, in float32 (its top_p sums every candidate's probability one after
// the other, in the candidates' order: over the whole vocabulary the server sends that sum,
// each entry's `llama_sum`); transformers' and vLLM's in float64, where their float32 softmax can only move a
// cut that falls within its rounding of top_p. Where a cut needs more than the tokens sent, or
// falls between tied tokens (the engine's sort decides which survive), the view stops before that
// stage and says why (`deferred`); the server's trace follows on release.

// base64 of little-endian values (the server's float32 logits, its int32 ids) as a typed array.
function decode(base64, ArrayType) {
  return new ArrayType(Uint8Array.from(atob(base64), character => character.charCodeAt(0)).buffer);
}

// log Σ exp(value(i)) over the first `count` tokens, and the entropy (bits) of their softmax.
function normalise(value, count) {
  const top = value(0);
  let sum = 0, weighted = 0;
  for (let i = 0; i < count; i++) {
    const shifted = value(i) - top, term = Math.exp(shifted);
    sum += term;
    weighted += term * shifted;
  }
  return {logZ: top + Math.log(sum), bits: (Math.log(sum) - weighted / sum) / Math.LN2};
}

const f32 = Math.fround, expf = x => f32(Math.exp(x));

function liveView(args, logits, ids, values) {
  const sent = logits.length, vocab = args.vocab, llama = args.engine === "llama.cpp";
  // The state after each stage: how many of the most likely tokens are kept, the temperature
  // applied so far (1: none yet), for llama.cpp whether its candidates are in id order, and for
  // greedy which of them is drawn.
  let kept = vocab, temperature = 1, idOrder = true, deferred = null, drawn = 0;
  // A logit as the engine has it now: llama.cpp divides in float32; the others' float64 here.
  const value = i => temperature === 1 ? logits[i] : llama ? f32(logits[i] / f32(temperature)) : logits[i] / temperature;
  // The whole vocabulary's figures at the temperature applied so far: the slider's steps, 1, and
  // the panel's own value, the only temperatures the view can reach.
  const whole = () => {
    if (temperature === 1) return args.unit;
    if (args.current && temperature === args.current.temperature) return args.current;
    return args.table.entries[Math.round((temperature - args.table.low) / args.table.step)];
  };
  const figures = () => {
    if (kept < vocab) return normalise(value, kept);
    const entry = whole();
    return {logZ: entry.log_z, bits: entry.entropy_bits};
  };
  const beyond = count => count > sent && sent < vocab;  // a cut past the tokens the browser has
  const tiedAt = count => count < Math.min(kept, sent) && logits[count - 1] === logits[count];
  // llama.cpp's probability of the i-th most likely candidate: expf(logit - max) over the float32
  // sum of all of them, added one after the other in the candidates' order.
  const llamaProbability = () => {
    const top = value(0);
    let sum = 0;
    if (kept === vocab) sum = whole().llama_sum;
    else {
      const order = [...Array(kept).keys()];
      if (idOrder) order.sort((a, b) => ids[a] - ids[b]);
      for (const i of order) sum = f32(sum + expf(f32(value(i) - top)));
    }
    return i => f32(expf(f32(value(i) - top)) / sum);
  };
  for (const stage of args.chain) {
    const setting = values[stage];
    let count = kept;
    if (stage === "temperature") {
      if (setting <= 0) {  // greedy in every engine: the most likely token alone
        if (tiedAt(1)) {
          // Of tokens tied at the top, torch.argmax (transformers, vLLM) takes the lowest id, and so
          // does llama.cpp's first maximum while its candidates are still in id order; after one of
          // its sorts the order among them is the sort's.
          let tied = 1;
          while (tied < Math.min(kept, sent) && logits[tied] === logits[0]) tied++;
          if ((llama && !idOrder) || (tied === sent && sent < vocab)) { deferred = {stage, reason: "tie"}; break; }
          for (let i = 1; i < tied; i++) if (ids[i] < ids[drawn]) drawn = i;
        }
        kept = 1;
        break;
      }
      // vLLM raises 0 < T < 0.01 to 0.01 (sampling_params.py).
      temperature = args.engine === "vllm" ? Math.max(setting, 0.01) : setting;
      continue;
    }
    if (stage === "top_k") {
      if (setting <= 0 || setting >= kept) continue;
      if (beyond(setting)) { deferred = {stage, reason: "tail"}; break; }
      count = setting;
      if (!llama) {  // transformers and vLLM keep every token tied with the k-th
        while (count < Math.min(kept, sent) && logits[count] === logits[setting - 1]) count++;
        if (count === sent && sent < vocab) { deferred = {stage, reason: "tail"}; break; }
      } else if (tiedAt(count)) { deferred = {stage, reason: "tie"}; break; }
      idOrder = false;
    } else if (stage === "top_p") {
      const p = f32(setting);  // every engine stores top_p as float32
      if (p >= 1) continue;
      // The smallest prefix whose probability reaches top_p: transformers and vLLM remove the
      // ascending cumsum <= 1 - p, llama.cpp keeps up to the first float32 running sum >= p.
      let cumulative = 0;
      count = 0;
      if (llama) {
        const probability = llamaProbability();
        while (count < Math.min(kept, sent) && cumulative < p) cumulative = f32(cumulative + probability(count++));
      } else {
        const logZ = figures().logZ;
        while (count < Math.min(kept, sent) && cumulative < setting) cumulative += Math.exp(value(count++) - logZ);
      }
      if (cumulative < (llama ? p : setting) && beyond(kept)) { deferred = {stage, reason: "tail"}; break; }
      if (tiedAt(count)) { deferred = {stage, reason: "tie"}; break; }
      idOrder = false;
    } else if (stage === "min_p") {
      if (setting <= 0) continue;
      // p >= min_p · p_max: logit >= max + log(min_p), in float32 for llama.cpp; ties pass together.
      const threshold = llama ? f32(value(0) + f32(Math.log(f32(setting)))) : value(0) + Math.log(setting);
      count = 0;
      while (count < Math.min(kept, sent) && value(count) >= threshold) count++;
      if (count === sent && beyond(kept)) { deferred = {stage, reason: "tail"}; break; }
      count = Math.max(count, 1);
    }
    kept = count;
  }
  const {logZ, bits} = figures();
  const rows = args.rows.map((label, index) => ({
    label, p: kept === 1 ? Number(index === drawn) : index < kept ? Math.exp(value(index) - logZ) : 0}));
  return {rows, bits: kept === 1 ? 0 : bits, kept, deferred};
}
