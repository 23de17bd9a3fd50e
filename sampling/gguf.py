"""GGUF files as a model source: opened through transformers' GGUF support, dequantized to float32,
and converted once to a local safetensors folder keyed by the file's sha256, so that a reload
takes seconds instead of the minute dequantizing takes.

The tokenizer and its chat template come from the file; so do llama.cpp's sampling defaults, the
``general.sampling.*`` keys (`sampling_defaults`), which the "this model's defaults" preset of the
llama.cpp order reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

CACHE_ENV = "SAMPLING_GGUF_CACHE"
METADATA = "gguf_source.json"
GGUF_SAMPLING_KEYS = {
    # llama-arch.cpp's LLM_KV_GENERAL_SAMPLING_*, read by common.cpp into common_params_sampling,
    # named here as `sampling.config.model_defaults` names them for the llama.cpp order.
    "general.sampling.temp": "temperature",
    "general.sampling.top_k": "top_k",
    "general.sampling.top_p": "top_p",
    "general.sampling.min_p": "min_p",
    "general.sampling.penalty_last_n": "penalty_last_n",
    "general.sampling.penalty_repeat": "penalty_repeat",
    "general.sampling.xtc_probability": "xtc_probability",
    "general.sampling.xtc_threshold": "xtc_threshold",
    "general.sampling.mirostat": "mirostat",
    "general.sampling.mirostat_tau": "mirostat_tau",
    "general.sampling.mirostat_eta": "mirostat_eta",
}


class GGUFError(ValueError):
    """A GGUF file cannot be used; the message is one line."""


def cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV, "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "sampling-explained" / "gguf"


def find_gguf(path: Path) -> Path | None:
    """``path`` itself when it is a ``.gguf`` file; the one ``.gguf`` file in a folder without a
    ``config.json``; else None."""
    if path.suffix == ".gguf":
        return path
    if path.is_dir() and not (path / "config.json").exists():
        files = sorted(path.glob("*.gguf"))
        if len(files) == 1:
            return files[0]
        if len(files) > 1:
            raise GGUFError(f"{path.name} holds {len(files)} GGUF files; name the one to load")
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _known_digest(path: Path) -> str:
    """The file's sha256, remembered by (path, size, modification time) so that a reload does not
    hash it again."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    index_path = cache_dir() / "digests.json"
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        index = {}
    if key not in index:
        index = {**{old: value for old, value in index.items() if not old.startswith(f"{path.resolve()}|")},
                 key: sha256_of(path)}
        index_path.parent.mkdir(parents=True, exist_ok=True)
        index_path.write_text(json.dumps(index, indent=1), encoding="utf-8")
    return index[key]


def read_metadata(path: Path) -> dict[str, Any]:
    """The file's key-value metadata (tensors are not read); `GGUFError` for a file that is not a
    whole GGUF file."""
    from gguf import GGUFReader

    if not path.is_file():
        raise GGUFError(f"GGUF file {path.name} does not exist")
    try:
        reader = GGUFReader(path)
        fields = {key: field.contents() for key, field in reader.fields.items()
                  if not key.startswith("tokenizer.ggml.")}
        end = max((int(tensor.data_offset) + int(tensor.n_bytes) for tensor in reader.tensors), default=0)
    except Exception as error:  # noqa: BLE001 - any reader failure means the file is not usable
        raise GGUFError(f"{path.name} is not a readable GGUF file (truncated or corrupt): "
                        f"{str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__}"
                        ) from error
    if end > path.stat().st_size:
        raise GGUFError(f"{path.name} is truncated: its tensors need {end:,} bytes, the file has "
                        f"{path.stat().st_size:,}")
    return fields


def sampling_defaults(metadata: dict[str, Any]) -> dict[str, Any]:
    """llama.cpp's sampling defaults that the file sets (``general.sampling.*``)."""
    return {name: metadata[key] for key, name in GGUF_SAMPLING_KEYS.items() if key in metadata}


def converted_folder(sha256: str) -> Path:
    """Where the conversion of the file with ``sha256`` is kept: keyed by the file and by the
    transformers version that converted it."""
    return cache_dir() / f"{sha256[:24]}-transformers-{version('transformers')}"


def converted(path: Path, sha256: str | None = None) -> Path:
    """A safetensors folder (model, tokenizer, generation config and `METADATA`) converted from the
    GGUF file ``path``, made on first use and then reused; ``sha256`` skips hashing a file whose sum
    is already known (a fetched model's)."""
    if not path.is_file():
        raise GGUFError(f"GGUF file {path.name} does not exist")
    digest = sha256 or _known_digest(path)
    folder = converted_folder(digest)
    if (folder / METADATA).exists():
        return folder
    metadata = read_metadata(path)
    architecture = metadata.get("general.architecture", "unknown")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    import torch

    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        quantized = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    except Exception as error:  # noqa: BLE001 - unsupported architecture or quantisation: one line
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise GGUFError(f"transformers cannot open {path.name} (architecture {architecture}): {reason}") from error
    # A model loaded from GGUF refuses save_pretrained: rebuild it from its config without the
    # quantization record, with the same (dequantized) weights.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict())
    model.generation_config = quantized.generation_config
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".converting-") as scratch:
        staging = Path(scratch) / "model"
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        source = {"file": path.name, "sha256": digest, "architecture": architecture,
                  "sampling": sampling_defaults(metadata),
                  "add_bos_token": bool(metadata.get("tokenizer.ggml.add_bos_token", False))}
        (staging / METADATA).write_text(json.dumps(source, indent=1, default=str), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    return folder


def source_of(folder: Path) -> dict[str, Any] | None:
    """What `converted` recorded about the GGUF file a folder came from; None for other folders."""
    try:
        return json.loads((folder / METADATA).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
