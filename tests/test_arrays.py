"""Array-file data: every file layout serves the same records with their labels, once per epoch,
in A, C, G, T order, shuffled by chunk and reproducibly; bad files and configs are named."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

import zoo
from zoo.data import ArrayDataModule, ArrayRecords, ChunkBatchSampler
from zoo.data.arrays.packing import _unpack_bits_torch
from zoo.dna import reverse_complement_str

CONF = Path(__file__).resolve().parents[1] / "conf"
N, L, T = 150, 12, 5


def records(n: int = N, length: int = L, n_targets: int = T, seed: int = 0):
    """Random distinct sequences, their one-hot (n, 4, L) ACGT uint8 (zoo.one_hot) and labels."""
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), size=length)) for _ in range(n)]
    x = zoo.one_hot(seqs).numpy().astype(np.uint8)
    y = (rng.random((n, n_targets)) < 0.4).astype(np.uint8)
    return seqs, x, y


def in_alphabet(x: np.ndarray, alphabet: str) -> np.ndarray:
    """ACGT one-hot (n, 4, L) rewritten with its channels in ``alphabet``'s order."""
    return np.stack([x[:, "ACGT".index(base)] for base in alphabet], axis=1)


def write_matlab73(path: Path, arrays: dict[str, np.ndarray], compress: bool = True) -> None:
    """An HDF5 file laid out as MATLAB -v7.3 writes one: a 512-byte header before the HDF5
    data, each array stored column-major (its axes reversed), in compressed chunks unless
    ``compress`` is off (then contiguous, which the reader memory-maps)."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in arrays.items():
            chunks = tuple(
                min(c, n) for c, n in zip((7, 3, 5), value.T.shape)
            )  # odd sizes: reads straddle them
            options = {"chunks": chunks, "compression": "gzip"} if compress else {}
            f.create_dataset(key, data=value.T, **options)
    with open(path, "r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .")


def layout(kind: str, tmp: Path, x: np.ndarray, y: np.ndarray) -> dict:
    """Write (x, y) in one file layout; returns the split config that reads it."""
    if kind == "hdf5":
        with h5py.File(tmp / "d.h5", "w") as f:
            f["x"], f["group/labels"] = x, y
        return {"path": str(tmp / "d.h5"), "label_key": "group/labels"}
    if kind == "hdf5_alphabet_length_batch":  # (4, L, N) in T, G, C, A order
        with h5py.File(tmp / "d.h5", "w") as f:
            f["x"], f["y"] = in_alphabet(x, "TGCA").transpose(1, 2, 0), y.T
        return {"path": str(tmp / "d.h5"), "seq_batch_axis": 2, "seq_alphabet_axis": 0,
                "label_batch_axis": 1, "alphabet": "TGCA"}  # fmt: skip
    if kind.startswith("matlab73"):  # MATLAB's N x 4 x L, AGCT, as DeepSEA's train.mat
        arrays = {"xx": in_alphabet(x, "AGCT"), "yy": y}
        write_matlab73(tmp / "train.mat", arrays, compress=kind == "matlab73")
        return {"path": str(tmp / "train.mat"), "seq_key": "xx", "label_key": "yy", "seq_batch_axis": 2,
                "seq_alphabet_axis": 1, "label_batch_axis": 1, "alphabet": "AGCT"}  # fmt: skip
    if kind == "matlab5":  # N x 4 x L, AGCT, as DeepSEA's valid.mat
        scipy.io.savemat(tmp / "valid.mat", {"xx": in_alphabet(x, "AGCT").astype(bool), "yy": y})
        return {"path": str(tmp / "valid.mat"), "seq_key": "xx", "label_key": "yy", "alphabet": "agct"}
    assert kind == "npy"  # (N, L, 4) float32 + labels in their own file
    np.save(tmp / "x.npy", x.transpose(0, 2, 1).astype(np.float32))
    np.save(tmp / "y.npy", y.astype(np.float32))
    return {"path": str(tmp / "x.npy"), "label_path": str(tmp / "y.npy"), "seq_alphabet_axis": 2}


LAYOUTS = ["hdf5", "hdf5_alphabet_length_batch", "matlab73", "matlab73_uncompressed", "matlab5", "npy"]


def module(train, **kwargs) -> ArrayDataModule:
    options = dict(batch_size=16, chunk_size=32, shuffle_chunks=2) | kwargs
    dm = ArrayDataModule(train=train, **options)
    dm.setup("fit")
    return dm


def epoch_indices(loader, x: np.ndarray, y: np.ndarray) -> list[int]:
    """The source record of every row the loader yields (found by its one-hot), after checking
    each batch's shapes and dtypes and that each row's labels are its record's."""
    where = {x[i].astype(np.float32).tobytes(): i for i in range(len(x))}
    order = []
    for xb, yb in loader:
        assert xb.dtype == yb.dtype == torch.float32 and xb.shape[1:] == (4, x.shape[2])
        for row, labels in zip(xb.numpy(), yb.numpy()):
            i = where[row.tobytes()]  # KeyError: a row that is no record (channels mixed up)
            assert np.array_equal(labels, y[i])
            order.append(i)
    return order


@pytest.mark.parametrize("kind", LAYOUTS)
def test_every_layout_serves_each_record_once_per_epoch_with_its_labels(tmp_path, kind):
    seqs, x, y = records()
    dm = module(layout(kind, tmp_path, x, y), val=layout(kind, tmp_path, x, y))
    assert (dm.seq_len, dm.n_targets, len(dm.datasets["train"])) == (L, T, N)
    loader = dm.train_dataloader()
    first, second = epoch_indices(loader, x, y), epoch_indices(loader, x, y)
    assert sorted(first) == sorted(second) == list(range(N))
    assert first != second and first != sorted(first)  # shuffled, differently each epoch
    assert len(loader) == -(-N // 16) == sum(1 for _ in loader)
    assert epoch_indices(dm.val_dataloader(), x, y) == list(range(N))  # in file order
    ds = dm.datasets["train"]
    xi, yi = ds[7]
    assert torch.equal(xi, zoo.one_hot(seqs[7])) and yi.tolist() == y[7].tolist()


def test_worker_processes_read_the_same_records_reproducibly(tmp_path):
    _, x, y = records()
    train = layout("matlab73", tmp_path, x, y)
    runs = [epoch_indices(module(train, num_workers=2, seed=3).train_dataloader(), x, y) for _ in range(2)]
    assert runs[0] == runs[1] and sorted(runs[0]) == list(range(N))


@pytest.mark.parametrize("kind", ["matlab73", "matlab5", "npy"])
def test_a_dataset_pickles_without_its_arrays_handles_or_cache(tmp_path, kind):
    _, x, y = records()
    ds = module(layout(kind, tmp_path, x, y)).datasets["train"]
    first = ds[np.array([3, 40, 41])]  # opens the file and fills the cache
    blob = pickle.dumps(ds)  # what a spawned DataLoader worker receives
    assert len(blob) < 4000 < x.nbytes  # no array data inside
    again = pickle.loads(blob)[np.array([3, 40, 41])]
    assert torch.equal(again[0], first[0]) and torch.equal(again[1], first[1])


def test_order_depends_only_on_seed_and_epoch(tmp_path):
    _, x, y = records()
    train = layout("hdf5", tmp_path, x, y)
    a, b, c = (module(train, seed=s).train_dataloader() for s in (1, 1, 2))
    a_epochs = [epoch_indices(a, x, y) for _ in range(2)]
    assert [epoch_indices(b, x, y) for _ in range(2)] == a_epochs
    assert epoch_indices(c, x, y) != a_epochs[0]
    b.sampler.set_epoch(1)  # Lightning sets the epoch; a resumed run gets that epoch's order
    assert epoch_indices(b, x, y) == a_epochs[1]


def test_sampler_shuffles_within_chunk_groups_and_alternates_worker_streams():
    n, batch, chunk = 1000, 10, 50
    sampler = ChunkBatchSampler(n, batch, chunk_size=chunk, shuffle_chunks=2, n_streams=2, seed=0)
    batches = list(sampler)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(n)) and len(batches) == len(sampler) == 100
    # Each batch draws from one group of two chunks (batches here never straddle groups:
    # a group is 100 records), and worker i % 2 sees only its own stream's chunks.
    streams: list[set[int]] = [set(), set()]
    for i, b in enumerate(batches):
        chunks = set((b // chunk).tolist())
        assert len(chunks) <= 2
        streams[i % 2] |= chunks
    assert not streams[0] & streams[1] and len(streams[0] | streams[1]) == n // chunk
    uneven = ChunkBatchSampler(1005, 64, chunk_size=100, shuffle_chunks=3, n_streams=3, seed=1)
    sizes = [len(b) for b in uneven]
    assert sum(sizes) == 1005 and sizes.count(64) == len(sizes) - 1 == 15  # one short batch, last
    assert list(ChunkBatchSampler(25, 10, shuffle=False)) == [slice(0, 10), slice(10, 20), slice(20, 25)]


def test_a_shuffled_epoch_reads_each_chunk_once(tmp_path, monkeypatch):
    _, x, y = records(n=300)
    dm = module(layout("matlab73", tmp_path, x, y), batch_size=16, chunk_size=32, shuffle_chunks=3)
    reads = []
    original = ArrayRecords.read
    monkeypatch.setattr(ArrayRecords, "read", lambda self, lo, hi: reads.append(lo) or original(self, lo, hi))
    assert sorted(epoch_indices(dm.train_dataloader(), x, y)) == list(range(300))
    assert sorted(reads) == list(range(0, 300, 32))


def test_reverse_complement_augmentation_flips_some_training_records(tmp_path):
    seqs, x, y = records()
    dm = module(layout("hdf5", tmp_path, x, y), rc_augment=True, val=layout("hdf5", tmp_path, x, y))
    both = {zoo.one_hot(s).numpy().tobytes(): i for i, s in enumerate(seqs)}
    both |= {zoo.one_hot(reverse_complement_str(s)).numpy().tobytes(): -1 - i for i, s in enumerate(seqs)}
    found = [both[row.numpy().tobytes()] for xb, _ in dm.train_dataloader() for row in xb]
    assert sorted(i if i >= 0 else -1 - i for i in found) == list(range(N))
    assert 0.3 < sum(i < 0 for i in found) / N < 0.7
    assert epoch_indices(dm.val_dataloader(), x, y) == list(range(N))  # no flips outside training


def to_model(dm: ArrayDataModule, batch):
    """What Lightning hands the model: the data module's hooks around the move to the device."""
    return dm.on_after_batch_transfer(dm.on_before_batch_transfer(batch, 0), 0)


def test_float_on_device_packs_bits_until_the_batch_reaches_the_device(tmp_path):
    _, x, y = records()
    train = layout("hdf5", tmp_path, x, y)
    plain, packed = module(train, seed=5), module(train, seed=5, num_workers=1, float_on_device=True)
    for (xp, yp), (xf, yf) in zip(packed.train_dataloader(), plain.train_dataloader()):
        assert isinstance(xp, np.ndarray) and xp.dtype == yp.dtype == np.uint8
        assert xp.shape == (len(xf), 4, 2) and yp.shape == (len(xf), 1)  # 12 bases in 2 bytes, 5 labels in 1
        xu, yu = to_model(packed, (xp, yp))
        assert torch.equal(xu, xf) and torch.equal(yu, yf) and xu.dtype == yu.dtype == torch.float32
        assert torch.equal(_unpack_bits_torch(torch.from_numpy(xp), L), xf)  # the accelerator's way
    assert to_model(plain, (xf, yf)) == (xf, yf)
    soft = {"path": str(tmp_path / "soft.npy"), "label_path": str(tmp_path / "ys.npy")}
    np.save(tmp_path / "soft.npy", x.astype(np.float32) * 0.5)  # not 0/1: sent as float32
    np.save(tmp_path / "ys.npy", y)
    xs, ys = next(iter(module(soft, float_on_device=True).train_dataloader()))
    assert xs.dtype == np.float32 and xs.max() == 0.5 and ys.dtype == np.uint8


def test_missing_keys_are_named_with_what_the_file_holds(tmp_path):
    _, x, y = records()
    h5 = layout("hdf5", tmp_path, x, y)
    with pytest.raises(ValueError, match=r"d\.h5: has no array 'labels'; it holds 'group/labels', 'x'"):
        module({**h5, "label_key": "labels"})
    mat = layout("matlab5", tmp_path, x, y)
    with pytest.raises(ValueError, match=r"valid\.mat: has no array 'validxdata'; it holds 'xx', 'yy'"):
        module({**mat, "seq_key": "validxdata"})


def test_axes_that_do_not_fit_name_the_file_shape_and_the_matlab_transposition(tmp_path):
    _, x, y = records()
    mat = layout("matlab73", tmp_path, x, y)
    # MATLAB's N x 4 x L with the axes as MATLAB numbers them: h5py reads (L, 4, N).
    wrong = {**mat, "seq_batch_axis": 0, "label_batch_axis": 0}
    transposed = (
        r"train\.mat: labels 'yy' have shape \(5, 150\): 5 records on label_batch_axis=0, but the "
        r"sequences 'xx' have 12 on seq_batch_axis=0 \(h5py shows a MATLAB v7\.3 array with its axes reversed"
    )
    with pytest.raises(ValueError, match=transposed):
        module(wrong)
    misfit = (
        r"sequences 'xx' have shape \(12, 4, 150\); with seq_batch_axis=2, seq_alphabet_axis=0, "
        r"seq_length_axis=1 expected \(4, length, records\)"
    )
    with pytest.raises(ValueError, match=misfit):
        module({**mat, "seq_alphabet_axis": 0})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"seq_batch_axis": 1},
            r"data\.train: seq_batch_axis=1, seq_alphabet_axis=1: the sequence axes must differ",
        ),
        ({"label_batch_axis": 2}, r"data\.train: label_batch_axis must be an axis number 0\.\.1, got 2"),
        ({"alphabet": "ACGN"}, r"data\.train: alphabet must order the letters A, C, G, T"),
        ({"sequence_key": "x"}, r"data\.train: unknown option\(s\) sequence_key; expected a path or path"),
        ({"chunk_size": 0}, r"data\.chunk_size must be a positive integer, got 0"),
    ],
)
def test_bad_options_are_refused_by_name(tmp_path, options, message):
    module_options = {k: v for k, v in options.items() if k == "chunk_size"}
    file_options = {k: v for k, v in options.items() if k != "chunk_size"}
    with pytest.raises(ValueError, match=message):
        ArrayDataModule(train={"path": str(tmp_path / "x.h5"), **file_options}, **module_options)


def test_sizes_are_checked_against_the_model_and_across_splits(tmp_path):
    _, x, y = records()
    train = layout("hdf5", tmp_path, x, y)
    with pytest.raises(
        ValueError, match=r"d\.h5: data\.train: the sequences are 12 long, expected 20 as data\.seq_len"
    ):
        module(train, seq_len=20)
    with pytest.raises(
        ValueError, match=r"data\.train: the labels have 5 targets, expected 9 as data\.n_targets"
    ):
        module(train, n_targets=9)
    _, x2, y2 = records(length=L + 1)
    (tmp_path / "other").mkdir()
    val = layout("npy", tmp_path / "other", x2, y2)
    with pytest.raises(
        ValueError, match=r"x\.npy: data\.val: the sequences are 13 long, expected 12 as data\.train$"
    ):
        module(train, val=val)
    (tmp_path / "junk.h5").write_bytes(b"not an array file")
    with pytest.raises(ValueError, match=r"junk\.h5: is not an HDF5, MATLAB \.mat or NumPy \.npy file"):
        module(str(tmp_path / "junk.h5"))


def bundle(tmp: Path, n_train: int = 40, n_eval: int = 8):
    """A small DeepSEA bundle: train.mat as MATLAB -v7.3 writes it, valid/test.mat as -v5."""
    sets = {}
    for name, n, seed in (("train", n_train, 0), ("valid", n_eval, 1), ("test", n_eval, 2)):
        _, x, y = records(n=n, length=1000, n_targets=919, seed=seed)
        arrays = {f"{name}xdata": in_alphabet(x, "AGCT"), f"{name}data": y}
        if name == "train":
            write_matlab73(tmp / "train.mat", arrays)
        else:
            scipy.io.savemat(tmp / f"{name}.mat", arrays)
        sets[name] = (x, y)
    return sets


def test_deepsea_bundle_preset_reads_the_bundle_as_selene_describes_it(tmp_path):
    sets = bundle(tmp_path)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=deepsea_bundle", f"data.dir={tmp_path}",
                                           "data.num_workers=0", "data.batch_size=16"])  # fmt: skip
    assert (cfg.model.seq_len, cfg.model.n_targets) == (1000, 919)
    dm = instantiate(cfg.data)
    dm.setup("fit")
    for split, name in (("train", "train"), ("val", "valid"), ("test", "test")):
        x, y = sets[name]
        loader = dm.train_dataloader() if split == "train" else dm._loader(split)
        assert next(iter(loader))[0].shape[1:] == (4, 125)  # float_on_device: 1000 bases in 125 bytes
        order = epoch_indices((to_model(dm, batch) for batch in loader), x, y)
        assert sorted(order) == list(range(len(x)))
        assert (order == list(range(len(x)))) == (split != "train")  # only training is shuffled


@pytest.mark.slow  # builds the paper-size DeepSEA (52.8 M parameters)
def test_deepsea_bundle_experiment_trains_validates_and_tests(tmp_path):
    from zoo.training import train

    bundle(tmp_path, n_train=8, n_eval=4)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=deepsea_bundle", f"data.dir={tmp_path}",
                                           f"run_dir={tmp_path}/run", "trainer=cpu", "data.num_workers=0",
                                           "data.batch_size=4", "+trainer.fast_dev_run=true"])  # fmt: skip
    metrics = train(cfg)
    assert {"train_loss_step", "val_auroc"} <= set(metrics)


@pytest.mark.parametrize("kind", ["hdf5_alphabet_length_batch", "npy"])
def test_the_arrays_config_sizes_the_model_from_the_training_files(tmp_path, kind):
    import zoo.training  # noqa: F401  registers the zoo.* resolvers

    _, x, y = records(n=20, length=17, n_targets=3)
    split = layout(kind, tmp_path, x, y)
    path = Path(split.pop("path"))
    given = [f"+data.train.{key}={value}" for key, value in split.items()]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["data=arrays", "model=deepsea", f"data.dir={path.parent}",
                                           f"+data.train.path={path.name}", *given])  # fmt: skip
    assert (cfg.data.seq_len, cfg.data.n_targets) == (cfg.model.seq_len, cfg.model.n_targets) == (17, 3)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["data=arrays", "data.train=nowhere.h5", f"data.dir={tmp_path}"])
    with pytest.raises(ValueError, match=r"array file '.*nowhere\.h5' does not exist"):
        cfg.data.seq_len  # noqa: B018
