"""JupyterLab settings for authors and instructors (``make lab-source``).

A notebook under ``notebooks/``, ``release/`` or ``solutions/`` is saved without
outputs, whether by hand or by autosave: those folders are stored without outputs (the
tests check it), and running a cell must not change them on disk.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORED = [ROOT / name for name in ("notebooks", "release", "solutions")]


def strip_outputs(model, path, contents_manager, **kwargs):
    """A ``pre_save_hook``: clear outputs of notebooks saved into the stored folders."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    full = (Path(contents_manager.root_dir) / path).resolve()
    if not any(full.is_relative_to(folder) for folder in STORED):
        return
    for cell in model["content"].get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None


if __name__ != "__main__" and "get_config" in globals():
    c = get_config()  # noqa: F821 (Jupyter provides get_config)
    c.FileContentsManager.pre_save_hook = strip_outputs
