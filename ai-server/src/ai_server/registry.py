"""The model registry: versioned models in the ai-models bucket, verified by checksum when loaded.

A model is a directory published under `<name>/<version>/` in the bucket, holding `manifest.json` and the
files it names. Formats: "torchscript" (a TorchScript file), "monai-bundle" (a MONAI bundle directory
whose TorchScript is `weights`, by default models/model.ts) and "json" (parameters a pipeline reads,
e.g. the Cox model's coefficients). A hospital adds its own model without code changes:

    python -m ai_server.registry add path/to/model-dir     # checks the manifest, uploads it
    python -m ai_server.registry list

The manifest (see the shipped ones under ai-server/models/ and docs/ai.md):
    name, version, task ("segmentation" | "omics-risk"), format, weights (path in the directory),
    sha256 (of the weights), input (what feeds the model), preprocessing, labels, metrics, card, disclaimer
    (English), disclaimers ({language code: text}, the card's disclaimer in each language it gives)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .pipelines.base import InvalidJob

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("name", "version", "task", "format", "weights", "sha256")
FORMATS = ("torchscript", "monai-bundle", "json")
TASKS = ("segmentation", "omics-risk")


class ManifestError(ValueError):
    pass


@dataclass
class LoadedModel:
    name: str
    version: str
    sha256: str
    manifest: dict[str, Any]
    directory: Path
    artifact: Any  # torch.jit.ScriptModule on the service's device, or the parsed JSON

    @property
    def task(self) -> str:
        return self.manifest["task"]

    @property
    def disclaimers(self) -> dict[str, str]:
        """The card's disclaimer by language code; a manifest with one English `disclaimer` gives {"en": it}."""
        texts = {code: text for code, text in (self.manifest.get("disclaimers") or {}).items() if text}
        if self.manifest.get("disclaimer") and "en" not in texts:
            texts["en"] = self.manifest["disclaimer"]
        return texts

    def describe(self) -> dict[str, Any]:
        card = self.manifest.get("card")
        card_path = self.directory / card if card else None
        return {
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "format": self.manifest["format"],
            "sha256": self.sha256,
            "input": self.manifest.get("input", {}),
            "preprocessing": self.manifest.get("preprocessing", {}),
            "labels": self.manifest.get("labels", {}),
            "metrics": self.manifest.get("metrics", {}),
            "disclaimer": self.manifest.get("disclaimer", ""),
            "disclaimers": self.disclaimers,
            "card": card_path.read_text(encoding="utf-8") if card_path and card_path.is_file() else "",
        }


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: Path) -> dict[str, Any]:
    """The directory's manifest, checked: required fields, known format and task, weights present and
    matching their checksum."""
    path = directory / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{directory}: no manifest.json") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc})") from None
    missing = [name for name in REQUIRED_FIELDS if not manifest.get(name)]
    if missing:
        raise ManifestError(f"{path}: missing {', '.join(missing)}")
    if manifest["format"] not in FORMATS:
        raise ManifestError(f"{path}: format {manifest['format']!r} is not one of {', '.join(FORMATS)}")
    if manifest["task"] not in TASKS:
        raise ManifestError(f"{path}: task {manifest['task']!r} is not one of {', '.join(TASKS)}")
    weights = directory / manifest["weights"]
    if not weights.is_file():
        raise ManifestError(f"{path}: weights file {manifest['weights']} is missing")
    actual = sha256_of(weights)
    if actual != manifest["sha256"]:
        raise ManifestError(f"{weights}: sha256 {actual} does not match the manifest's {manifest['sha256']}")
    return manifest


def load_model_directory(directory: Path, device: Any) -> LoadedModel:
    """A model directory, its manifest and weights checked, loaded on `device`: what a pipeline gets."""
    manifest = read_manifest(directory)
    return LoadedModel(
        manifest["name"],
        manifest["version"],
        manifest["sha256"],
        manifest,
        Path(directory),
        _load_artifact(directory, manifest, device),
    )


def _load_artifact(directory: Path, manifest: dict[str, Any], device: Any) -> Any:
    weights = directory / manifest["weights"]
    if manifest["format"] == "json":
        return json.loads(weights.read_text(encoding="utf-8"))
    import torch

    module = torch.jit.load(str(weights), map_location=device)
    module.eval()
    return module


class Registry:
    """Models published to the ai-models bucket, mirrored to a local cache and loaded on `device`."""

    reuse_from_bytes = 1024 * 1024

    def __init__(self, store: Any, bucket: str, cache_dir: Path, device: Any):
        self.store, self.bucket, self.cache_dir, self.device = store, bucket, Path(cache_dir), device
        self.models: dict[tuple[str, str], LoadedModel] = {}
        self.errors: dict[str, str] = {}  # "<name>/<version>" -> why it was not loaded

    # --- publishing ----------------------------------------------------------------------------------
    def add(self, directory: Path) -> dict[str, Any]:
        """Check a model directory and upload it (idempotent: the same files again change nothing)."""
        directory = Path(directory)
        manifest = read_manifest(directory)
        prefix = f"{manifest['name']}/{manifest['version']}/"
        self.store.ensure_bucket(self.bucket)
        existing = self.store.get(self.bucket, prefix + "manifest.json")
        if existing is not None and json.loads(existing).get("sha256") != manifest["sha256"]:
            raise ManifestError(
                f"{manifest['name']} {manifest['version']} is already registered with other weights: "
                "publish a new version instead of replacing one"
            )
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            self.store.put(self.bucket, prefix + path.relative_to(directory).as_posix(), path.read_bytes())
        return manifest

    # --- loading -------------------------------------------------------------------------------------
    def load(self) -> None:
        """(Re)load every published model; a model that fails its checks is left out and listed in errors."""
        self.store.ensure_bucket(self.bucket)
        models, errors = {}, {}
        prefixes = sorted(
            key[: -len("manifest.json")] for key in self.store.keys(self.bucket) if key.endswith("/manifest.json")
        )
        for prefix in prefixes:
            try:
                try:
                    model = self._load_one(prefix)
                except ManifestError:  # perhaps a damaged cached copy: fetch every file again
                    model = self._load_one(prefix, fresh=True)
                models[(model.name, model.version)] = model
            except Exception as exc:  # one bad model must not keep the others from loading
                errors[prefix.rstrip("/")] = f"{exc.__class__.__name__}: {exc}"
                logger.error("model %s not loaded: %s", prefix, exc)
        self.models, self.errors = models, errors
        logger.info("models loaded: %s", ", ".join(f"{n} {v}" for n, v in sorted(models)) or "none")

    def _load_one(self, prefix: str, *, fresh: bool = False) -> LoadedModel:
        model = load_model_directory(self._mirror(prefix, fresh=fresh), self.device)
        if prefix != f"{model.name}/{model.version}/":
            raise ManifestError(f"manifest names {model.name}/{model.version}")
        return model

    def _mirror(self, prefix: str, *, fresh: bool = False) -> Path:
        """Copy the model's objects into the cache. A published version's weights never change (`add`
        refuses other weights), so a cached file of at least `reuse_from_bytes` with the listed size is
        kept instead of being downloaded at every start; the weights are checked against the manifest's
        sha256 when loaded all the same. Smaller files (the manifest, the card) are always fetched."""
        directory = self.cache_dir / prefix
        for key, size in self.store.sizes(self.bucket, prefix):
            target = self.cache_dir / key
            if not fresh and size >= self.reuse_from_bytes and target.is_file() and target.stat().st_size == size:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.store.get(self.bucket, key))
        return directory

    def get(self, name: str, version: str | None = None) -> LoadedModel:
        if version:
            model = self.models.get((name, version))
        else:
            versions = sorted((k for k in self.models if k[0] == name), key=lambda k: _version_key(k[1]))
            model = self.models[versions[-1]] if versions else None
        if model is None:
            known = ", ".join(f"{n} {v}" for n, v in sorted(self.models)) or "none"
            wanted = f"{name} {version}" if version else name
            raise InvalidJob(f"unknown model '{wanted}' (registered: {known})")
        return model

    def describe(self) -> list[dict[str, Any]]:
        return [self.models[key].describe() for key in sorted(self.models)]


def _version_key(version: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in version.replace("-", ".").split("."))


def main(argv: list[str] | None = None) -> int:
    from .config import Settings
    from .storage import ObjectStore

    parser = argparse.ArgumentParser(prog="python -m ai_server.registry", description="Manage registered models.")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="check model directories and upload them to the registry")
    add.add_argument("directories", nargs="+", type=Path)
    commands.add_parser("list", help="list the registered models")
    args = parser.parse_args(argv)

    settings = Settings()
    registry = Registry(ObjectStore(settings), settings.models_bucket, settings.model_cache_dir, "cpu")
    if args.command == "add":
        for directory in args.directories:
            try:
                manifest = registry.add(directory)
            except ManifestError as exc:
                print(f"refused: {exc}", file=sys.stderr)
                return 1
            print(f"registered {manifest['name']} {manifest['version']} (sha256 {manifest['sha256'][:12]}...)")
        return 0
    registry.load()
    for model in registry.describe():
        print(f"{model['name']} {model['version']}  {model['task']}  sha256 {model['sha256'][:12]}...")
    for prefix, error in registry.errors.items():
        print(f"{prefix}  NOT LOADED: {error}")
    return 1 if registry.errors else 0


if __name__ == "__main__":
    sys.exit(main())
