"""One-line notices about a trace: where the engine changed a setting, and cuts through tied logits."""

from __future__ import annotations

from app.text import t
from sampling.pipeline import Trace


def stage_notices(trace: Trace, lang: str) -> list[str]:
    """For each stage of ``trace`` (one row): the engine's own change of its value, then any tie
    that its cut fell inside, with how each engine breaks such a tie."""
    lines = []
    for stage in trace.stages:
        if stage.note:
            lines.append(stage.note if lang == "en" else t(lang, f"note_{stage.name}", engine=trace.config.order,
                                                            given=getattr(trace.config, stage.name), used=stage.value))
        ties = stage.details.get("ties")
        if ties is not None and int(ties["tied"]) > 0:
            lines.append(t(lang, "tie_notice", stage=stage.name, tied=int(ties["tied"]), kept=int(ties["kept"]),
                           logit=float(ties["logit"]), rule=t(lang, f"tie_rule_{trace.config.order}")))
    return lines

