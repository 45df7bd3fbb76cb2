import gzip
import io
import pickle
import shutil
import tarfile

import numpy as np
import pytest

from helpers import datasets


@pytest.fixture
def no_download(monkeypatch):
    """Make Keras' download fail at once, as on an offline machine."""
    def offline(name):
        raise OSError("URL fetch failure: no network")
    monkeypatch.setattr(datasets, "_keras_download", offline)


@pytest.fixture
def empty_env(tmp_path, monkeypatch):
    """No COURSE_DATA_DIR and an empty Keras home."""
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return tmp_path


# ------------------------------------------------------------------ the real files
@pytest.mark.parametrize("shape, image", [("flat", (784,)), ("image", (28, 28)),
                                          ("channels", (28, 28, 1))])
def test_mnist_shapes_dtypes_ranges(data_dir, shape, image):
    ds = datasets.load_mnist(shape=shape, data_dir=data_dir)
    assert ds.x_train.shape == (55_000, *image)
    assert ds.x_val.shape == (5_000, *image)
    assert ds.x_test.shape == (10_000, *image)
    assert ds.x_train.dtype == np.float32
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert ds.y_train.shape == (55_000,) and set(np.unique(ds.y_test)) == set(range(10))
    assert ds.source == str(data_dir)


def test_validation_split_is_the_end_of_the_training_set(data_dir):
    with np.load(data_dir / "mnist.npz") as raw:
        x_train, y_train = raw["x_train"], raw["y_train"]
    ds = datasets.load_mnist(validation=1000, data_dir=data_dir)
    assert np.array_equal(ds.x_val, x_train[-1000:] / np.float32(255))
    assert np.array_equal(ds.y_val, y_train[-1000:])
    assert np.array_equal(ds.y_train, y_train[:-1000])


def test_fashion_mnist(data_dir):
    ds = datasets.load_fashion_mnist(shape="channels", data_dir=data_dir)
    assert ds.x_train.shape == (55_000, 28, 28, 1) and ds.x_test.shape == (10_000, 28, 28, 1)
    assert ds.class_names[9] == "Ankle boot"
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert 0.25 < ds.x_train.mean() < 0.35  # clothes are brighter than digits


def test_cifar10(data_dir):
    if not (data_dir / "cifar10.npz").is_file():
        pytest.skip("CIFAR-10 not staged")
    ds = datasets.load_cifar10(data_dir=data_dir, n_train=2000, n_eval=500)
    assert ds.x_train.shape == (2000, 32, 32, 3) and ds.x_val.shape == (500, 32, 32, 3)
    assert ds.x_train.dtype == np.float32 and 0 <= ds.x_train.min() < ds.x_train.max() <= 1
    assert ds.class_names[0] == "airplane"
    flat = datasets.load_cifar10(data_dir=data_dir, shape="flat", n_train=10, n_eval=10)
    assert flat.x_train.shape == (10, 3072)


def test_subset_keeps_the_first_examples(data_dir):
    full = datasets.load_mnist(data_dir=data_dir)
    small = full.subset(100, 20)
    assert small.x_train.shape[0] == 100 and small.x_val.shape[0] == 20
    assert small.x_test.shape[0] == 20
    assert np.array_equal(small.x_test, full.x_test[:20])


# ------------------------------------------------------------------ where data is found
def test_course_data_dir_comes_before_keras_cache(data_dir, empty_env, monkeypatch):
    cache = empty_env / "keras_home" / "datasets"
    cache.mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(b"garbage")  # would fail if it were read
    monkeypatch.setenv("COURSE_DATA_DIR", str(data_dir))
    assert datasets.search_dirs() == [data_dir, cache]
    assert datasets.load_mnist(n_train=10, n_eval=10).source == str(data_dir)


def test_keras_cache_is_used_and_keras_home_honoured(data_dir, empty_env, no_download):
    cache = empty_env / "keras_home" / "datasets"
    (cache / "fashion-mnist").mkdir(parents=True)
    for name in datasets.FASHION_FILES:
        shutil.copy(data_dir / "fashion-mnist" / name, cache / "fashion-mnist" / name)
    ds = datasets.load_fashion_mnist(n_train=5, n_eval=5)
    assert ds.source == str(cache)


def test_default_keras_cache_is_under_home(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert datasets.keras_cache_dir() == tmp_path / ".keras" / "datasets"


def test_download_is_the_last_resort(empty_env, monkeypatch):
    calls = []

    def fake_download(name):
        calls.append(name)
        x = np.zeros((20, 28, 28), np.uint8)
        y = np.arange(20, dtype=np.uint8) % 10
        return x, y, x[:10], y[:10]
    monkeypatch.setattr(datasets, "_keras_download", fake_download)
    ds = datasets.load_mnist(validation=5)
    assert calls == ["mnist"] and ds.source == "Keras' download"
    assert ds.x_train.shape == (15, 28, 28)


# ------------------------------------------------------------------ errors
def test_missing_data_offline_names_dataset_places_and_fix(empty_env, no_download, tmp_path):
    with pytest.raises(datasets.DataNotFoundError) as err:
        datasets.load_fashion_mnist(data_dir=tmp_path / "nowhere")
    message = str(err.value)
    assert "Dataset 'fashion_mnist' was not found" in message
    assert str(tmp_path / "nowhere") in message
    assert str(tmp_path / "keras_home" / "datasets") in message
    assert "URL fetch failure" in message
    assert "COURSE_DATA_DIR" in message and "train-images-idx3-ubyte.gz" in message
    assert isinstance(err.value, FileNotFoundError)


def test_download_false_says_it_did_not_try(empty_env):
    with pytest.raises(datasets.DataNotFoundError, match="not attempted"):
        datasets.load_cifar10(download=False)


def test_corrupted_known_file_raises_checksum_error(tmp_path, data_dir):
    bad = tmp_path / "mnist.npz"
    data = bytearray((data_dir / "mnist.npz").read_bytes())
    data[5000] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(datasets.ChecksumError, match="sha256") as err:
        datasets.load_mnist(data_dir=tmp_path)
    assert str(bad) in str(err.value) and datasets.SHA256["mnist.npz"] in str(err.value)


def test_truncated_fashion_file_raises_checksum_error(tmp_path, data_dir):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for name in datasets.FASHION_FILES:
        shutil.copy(data_dir / "fashion-mnist" / name, folder / name)
    target = folder / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:1000])
    with pytest.raises(datasets.ChecksumError, match="t10k-labels"):
        datasets.load_fashion_mnist(data_dir=tmp_path)


def test_unknown_dataset_is_a_value_error():
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.load_dataset("imagenet")


# ------------------------------------------------------------------ CIFAR-10's three forms
def _fake_cifar_batches(n=4):
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        batches[name] = {b"data": x.reshape(n, -1), b"labels": list(rng.integers(0, 10, n))}
    return batches


def _check_fake_cifar(ds, batches):
    first = batches["data_batch_1"][b"data"][0].reshape(3, 32, 32).transpose(1, 2, 0)
    assert ds.x_train.shape == (20 - 2, 32, 32, 3) and ds.x_test.shape == (4, 32, 32, 3)
    assert np.array_equal(ds.x_train[0], first / np.float32(255))


def test_cifar_extracted_folder(tmp_path, empty_env, no_download):
    batches = _fake_cifar_batches()
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name, batch in batches.items():
        (folder / name).write_bytes(pickle.dumps(batch))
    _check_fake_cifar(datasets.load_cifar10(data_dir=tmp_path / "data", validation=2), batches)


def test_cifar_tarball_is_verified_then_read(tmp_path, empty_env, no_download, monkeypatch):
    batches = _fake_cifar_batches()
    path = tmp_path / datasets.CIFAR_TARBALL
    with tarfile.open(path, "w:gz") as tar:
        for name, batch in batches.items():
            raw = pickle.dumps(batch)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(datasets.ChecksumError, match="cifar-10-python.tar.gz"):
        datasets.load_cifar10(data_dir=tmp_path)
    monkeypatch.setitem(datasets.SHA256, datasets.CIFAR_TARBALL, datasets.sha256_of(path))
    _check_fake_cifar(datasets.load_cifar10(data_dir=tmp_path, validation=2), batches)


def test_cifar_npz_with_wrong_contents_is_rejected(tmp_path, empty_env):
    x = np.zeros((4, 28, 28), np.uint8)
    y = np.zeros(4, np.uint8)
    np.savez(tmp_path / "cifar10.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    with pytest.raises(datasets.ChecksumError, match="unexpected contents"):
        datasets.load_cifar10(data_dir=tmp_path, validation=1)


def test_cifar_npz_that_is_not_a_zip_is_rejected(tmp_path, empty_env):
    (tmp_path / "cifar10.npz").write_bytes(b"not a zip file")
    with pytest.raises(datasets.ChecksumError, match="not a readable"):
        datasets.load_cifar10(data_dir=tmp_path)


def test_idx_reader_rejects_non_idx(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x09\x01" + b"\x00" * 20))
    with pytest.raises(datasets.ChecksumError, match="IDX"):
        datasets._read_idx(path)


def test_validation_zero_keeps_all_training_examples(data_dir):
    ds = datasets.load_mnist(shape="flat", validation=0, data_dir=data_dir)
    assert ds.x_train.shape == (60_000, 784) and ds.x_val.shape == (0, 784)


# ------------------------------------------------------------------ kept (checking processes)
def test_kept_datasets_are_prepared_once_and_handed_out_read_only(data_dir, monkeypatch):
    monkeypatch.setattr(datasets, "_KEPT", None)  # as in a notebook: arrays of its own
    fresh = datasets.load_mnist(shape="flat", data_dir=data_dir)
    assert fresh.x_train.flags.writeable
    monkeypatch.setenv("COURSE_DATA_DIR", str(data_dir))
    datasets.keep("mnist")
    flat, channels = (datasets.load_mnist(shape=s) for s in ("flat", "channels"))
    assert flat.x_train.shape == (55_000, 784) and channels.x_test.shape == (10_000, 28, 28, 1)
    assert np.shares_memory(flat.x_train, channels.x_train)
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert np.array_equal(getattr(flat, name), getattr(fresh, name)), name
        assert not getattr(flat, name).flags.writeable, name
    with pytest.raises(ValueError, match="read-only"):
        flat.x_train[:256] += 1
    # another split, another size, another place to look, or a folder named: prepared anew
    assert datasets.load_mnist(validation=1000).x_val.shape == (1000, 28, 28)
    small = datasets.load_mnist(n_train=100, n_eval=10)
    assert small.x_train.shape == (100, 28, 28) and small.x_test.shape == (10, 28, 28)
    assert not small.y_train.flags.writeable and not small.y_train.base.flags.writeable
    assert datasets.load_mnist(data_dir=data_dir).x_train.flags.writeable
    entries = len(datasets._KEPT)
    monkeypatch.setenv("KERAS_HOME", str(data_dir / "elsewhere"))
    datasets.load_mnist()
    assert len(datasets._KEPT) == entries + 1


def test_keep_leaves_missing_data_to_the_load_that_needs_it(empty_env, no_download,
                                                             monkeypatch):
    monkeypatch.setattr(datasets, "_KEPT", None)
    datasets.keep("mnist")
    with pytest.raises(datasets.DataNotFoundError, match="mnist"):
        datasets.load_mnist()
