"""helpers.hosted: what the setup cell does on Colab and Kaggle, and nowhere else."""

from __future__ import annotations

import hashlib
import json

import pytest

from helpers import hosted, pretrained


def test_the_platform_is_told_by_colabs_module_or_kaggles_variable():
    assert hosted.platform({}, modules=["google.colab"]) == "Colab"
    assert hosted.platform({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, modules=[]) == "Kaggle"
    assert hosted.platform({}, modules=["google"]) is None


def test_nothing_is_hosted_while_nbgrader_grades():
    env = {"NBGRADER_EXECUTION": "autograde", "KAGGLE_KERNEL_RUN_TYPE": "Batch"}
    assert hosted.platform(env, modules=["google.colab"]) is None


def test_constraints_pin_every_installed_package_by_name_only():
    lines = hosted.constraints().splitlines()
    assert any(line.lower().startswith("numpy==") for line in lines)
    assert all(line.count("==") == 1 and " " not in line and "@" not in line for line in lines)


def test_this_environment_meets_the_packages_ranges():
    missing, outside = hosted.missing_requirements()
    assert (missing, outside) == ([], [])


def _shipped(folder, name="tiny", data=b"weights"):
    (folder / f"{name}.weights.npz").write_bytes(data)
    (folder / f"{name}.json").write_text(json.dumps(
        {"sha256": hashlib.sha256(data).hexdigest()}))


def test_weights_are_downloaded_once_and_checked(tmp_path):
    source, dest = tmp_path / "repository", tmp_path / "cache"
    source.mkdir()
    _shipped(source)
    assert hosted.fetch_weights(["tiny"], dest, source.as_uri()) == ["tiny"]
    assert (dest / "tiny.weights.npz").read_bytes() == b"weights"
    assert hosted.fetch_weights(["tiny"], dest, source.as_uri()) == []


def test_a_download_that_does_not_match_its_record_is_not_kept(tmp_path):
    source, dest = tmp_path / "repository", tmp_path / "cache"
    source.mkdir()
    _shipped(source)
    (source / "tiny.weights.npz").write_bytes(b"tampered")
    with pytest.raises(hosted.HostedSetupError, match="does not match the sha256"):
        hosted.fetch_weights(["tiny"], dest, source.as_uri())
    assert not (dest / "tiny.weights.npz").exists()


def test_a_missing_file_names_its_url(tmp_path):
    with pytest.raises(hosted.HostedSetupError, match="could not download .*/nothing.json"):
        hosted.fetch_weights(["nothing"], tmp_path / "cache", tmp_path.as_uri())


def test_on_kaggle_fit_or_load_fetches_the_weights_it_needs(tmp_path, monkeypatch):
    """The shipped weights come from COURSE_WEIGHTS_URL into COURSE_WEIGHTS_DIR when the
    notebook first loads them; a record that does not fit the model is reported."""
    source = tmp_path / "repository"
    source.mkdir()
    _shipped(source)
    env = {"KAGGLE_KERNEL_RUN_TYPE": "Interactive", "COURSE_WEIGHTS_URL": source.as_uri(),
           "COURSE_WEIGHTS_DIR": str(tmp_path / "cache"), "COURSE_WEIGHTS": "require"}
    monkeypatch.setattr(hosted, "platform", lambda environ=None: "Kaggle")
    with pytest.raises(pretrained.WeightsError, match="tiny.weights.npz"):
        pretrained.fit_or_load(object(), "tiny", fit=dict, environ=env)
    assert (tmp_path / "cache" / "tiny.weights.npz").is_file()


def test_a_runtime_without_tensorflow_is_told_to_change_runtime(monkeypatch):
    monkeypatch.setattr(hosted, "missing_requirements",
                        lambda: (["tensorflow<2.22,>=2.20", "tf-keras<2.22,>=2.20"], []))
    monkeypatch.setattr(hosted, "install", lambda requirements: pytest.fail("installed"))
    with pytest.raises(hosted.HostedSetupError, match="choose a CPU or GPU runtime"):
        hosted.prepare("Colab")
