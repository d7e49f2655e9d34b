import json
import shutil

import pytest
import torch

from ai_server.pipelines.base import InvalidJob
from ai_server.registry import ManifestError, Registry, main, read_manifest, sha256_of
from ai_server.storage import ObjectStore


def write_model(directory, *, name="tiny-seg", version="1.0.0", layout="torchscript"):
    """A real (tiny) TorchScript network with its manifest, as a hospital would bring one."""
    weights = "models/model.ts" if layout == "monai-bundle" else "model.ts"
    (directory / weights).parent.mkdir(parents=True, exist_ok=True)
    torch.jit.script(torch.nn.Conv3d(1, 2, 1)).save(str(directory / weights))
    if layout == "monai-bundle":
        (directory / "configs").mkdir(exist_ok=True)
        (directory / "configs" / "metadata.json").write_text(json.dumps({"version": version}))
    manifest = {
        "name": name,
        "version": version,
        "task": "segmentation",
        "format": layout,
        "weights": weights,
        "sha256": sha256_of(directory / weights),
        "input": {"modality": "MR", "channels": [{"name": "T1", "sequence": ["T1"]}]},
        "labels": {"1": "lesion"},
        "card": "card.md",
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    (directory / "card.md").write_text("# tiny\nA test network.\n")
    return manifest


@pytest.fixture
def registry(settings, tmp_path):
    bucket = settings.bucket(f"reg-{tmp_path.name[-8:].lower().replace('_', '-')}")
    return Registry(ObjectStore(settings), bucket, tmp_path / "cache", "cpu")


def test_added_models_load_verified_and_are_described(registry, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_model(tmp_path / "a")
    write_model(tmp_path / "b", version="1.1.0", layout="monai-bundle")
    registry.add(tmp_path / "a")
    registry.add(tmp_path / "b")
    registry.load()

    assert registry.errors == {}
    assert registry.get("tiny-seg").version == "1.1.0"  # newest when no version is asked for
    model = registry.get("tiny-seg", "1.0.0")
    assert isinstance(model.artifact, torch.jit.ScriptModule)
    assert model.artifact(torch.zeros(1, 1, 2, 2, 2)).shape == (1, 2, 2, 2, 2)
    described = {(m["name"], m["version"]): m for m in registry.describe()}
    assert described[("tiny-seg", "1.0.0")]["card"].startswith("# tiny")
    assert described[("tiny-seg", "1.1.0")]["format"] == "monai-bundle"


def test_tampered_weights_are_not_loaded(registry, tmp_path):
    (tmp_path / "a").mkdir()
    write_model(tmp_path / "a")
    registry.add(tmp_path / "a")
    registry.store.put(registry.bucket, "tiny-seg/1.0.0/model.ts", b"not the weights that were registered")
    registry.load()

    assert registry.models == {}
    assert "does not match the manifest" in registry.errors["tiny-seg/1.0.0"]
    with pytest.raises(InvalidJob, match="unknown model 'tiny-seg' \\(registered: none\\)"):
        registry.get("tiny-seg")


def test_a_restart_reuses_cached_weights_and_fetches_a_damaged_copy_again(registry, tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    write_model(tmp_path / "a")
    registry.add(tmp_path / "a")
    registry.reuse_from_bytes = 0  # the test network is tiny; by default only files from 1 MiB are kept
    registry.load()
    fetched = []
    get = registry.store.get
    monkeypatch.setattr(registry.store, "get", lambda bucket, key: fetched.append(key) or get(bucket, key))

    registry.load()  # a restart
    assert fetched == [] and registry.get("tiny-seg").version == "1.0.0"

    cached = tmp_path / "cache" / "tiny-seg" / "1.0.0" / "model.ts"
    cached.write_bytes(b"\0" * cached.stat().st_size)  # damaged on disk, same size
    registry.load()
    assert "tiny-seg/1.0.0/model.ts" in fetched and registry.errors == {}
    assert registry.get("tiny-seg").artifact(torch.zeros(1, 1, 2, 2, 2)).shape == (1, 2, 2, 2, 2)


def test_a_version_cannot_be_replaced_by_other_weights(registry, tmp_path):
    (tmp_path / "a").mkdir()
    write_model(tmp_path / "a")
    registry.add(tmp_path / "a")
    registry.add(tmp_path / "a")  # the same files again: fine
    shutil.rmtree(tmp_path / "a")
    (tmp_path / "a").mkdir()
    write_model(tmp_path / "a")  # freshly initialised weights: another checksum
    with pytest.raises(ManifestError, match="publish a new version"):
        registry.add(tmp_path / "a")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda m: m.pop("sha256"), "missing sha256"),
        (lambda m: m.update(format="onnx"), "format 'onnx' is not one of"),
        (lambda m: m.update(task="captioning"), "task 'captioning' is not one of"),
        (lambda m: m.update(weights="absent.ts"), "weights file absent.ts is missing"),
        (lambda m: m.update(sha256="0" * 64), "does not match the manifest"),
    ],
)
def test_bad_manifests_are_refused_with_the_reason(tmp_path, change, error):
    manifest = write_model(tmp_path)
    change(manifest)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=error):
        read_manifest(tmp_path)


def test_command_line_adds_and_lists(settings, tmp_path, monkeypatch, capsys):
    for name, value in settings.model_dump(by_alias=True).items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("S3_BUCKET_PREFIX", settings.s3_bucket_prefix + "cli-")
    write_model(tmp_path)
    assert main(["add", str(tmp_path)]) == 0
    assert "registered tiny-seg 1.0.0" in capsys.readouterr().out
    assert main(["list"]) == 0
    assert "tiny-seg 1.0.0  segmentation" in capsys.readouterr().out
    (tmp_path / "manifest.json").write_text("{")
    assert main(["add", str(tmp_path)]) == 1
    assert "not valid JSON" in capsys.readouterr().err
