"""Each feature op against the library docs/config.md "What each transform means" says it equals.

Expected values are computed by TensorFlow, Keras, tf.feature_column,
scikit-learn or tf.Transform inside each test; the only hard-coded numbers are
the Keras docs' golden values, pinned because hash drift is silent. The
quantile buckets, which need a tf.Transform analysis (a Beam job), are
tests/jobs/test_features_job.py's.
"""

from __future__ import annotations

import dataclasses
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
import tf_keras
from sklearn.preprocessing import PolynomialFeatures

from pipeline.transform.features import compute_feature, encode
from tests.support import (
    EDGE_INTS,
    EDGE_STRINGS,
    as_2d,
    assert_sparse_equal,
    column,
    columns,
    make_feature,
    one_per_row,
    sequence,
    sparse_rows,
)

# Golden values from the Keras HashedCrossing docs (shared/seeds).
SEED_COLUMNS = {"s1": ["A", "B", "A", "B", "A"], "i1": [101, 101, 101, 102, 102]}
SEED_IDS = [1, 4, 1, 1, 3]
SEED_ONE_HOT = [[0, 1, 0, 0, 0], [0, 0, 0, 0, 1], [0, 1, 0, 0, 0],
                [0, 1, 0, 0, 0], [0, 0, 0, 1, 0]]
OTHER_STRINGS = EDGE_STRINGS[1:] + EDGE_STRINGS[:1]  # pairs every edge string with another
TOKENS = [[], ["a"], ["a", "東京", "", "a"], ["😀", "café"]]
CODES = [[5, -1], [], [2**63 - 1], [0, 0, -2**63]]
SCALARS = {"s1": ["DL", "", "AA", "café"], "i1": [1, -1, 2**63 - 1, -2**63]}
NUM_BINS = [pytest.param(n, id=f"bins_{n}") for n in (2, 5000, 2**40)]


@pytest.fixture(autouse=True)
def fresh_global_graph():
    """Drops what eager ops leave in the global graph.

    An eager `encode(sparse=True)` records tf.Transform's sparse-shape annotation
    (eager tensors) in the global graph's collections; any later tf.Transform
    trace in this process inherits them and fails on `Tensor.name`.
    """
    yield
    tf.compat.v1.reset_default_graph()


def single_cross(values: tuple, dtypes: list, num_bins: int) -> int:
    """TF's id for one combination: a batch of one row, one value per input."""
    inputs = [tf.constant([[v]], dtype) for v, dtype in zip(values, dtypes)]
    return int(tf.sparse.cross_hashed(inputs, num_buckets=num_bins).values[0])


def assert_encoded_equal(actual, expected) -> None:
    """Same dense array, or the same SparseTensor entries."""
    assert isinstance(actual, tf.SparseTensor) == isinstance(expected, tf.SparseTensor)
    if isinstance(actual, tf.SparseTensor):
        assert_sparse_equal(actual, expected)
    else:
        np.testing.assert_array_equal(actual, keras.ops.convert_to_numpy(expected))


# --- The golden example ---------------------------------------------------------

def test_seed_example_cross_ids_are_golden():
    feature = make_feature({"cross": ["s1", "i1"], "num_bins": 5})
    ids = compute_feature(feature, columns(SEED_COLUMNS))
    assert ids.numpy().tolist() == SEED_IDS


def test_seed_example_keras_hashed_crossing_is_golden():
    inputs = (np.array(SEED_COLUMNS["s1"]), np.array(SEED_COLUMNS["i1"]))
    ids = keras.layers.HashedCrossing(num_bins=5)(inputs)
    assert keras.ops.convert_to_numpy(ids).tolist() == SEED_IDS
    one_hot = keras.layers.HashedCrossing(num_bins=5, output_mode="one_hot")(inputs)
    assert keras.ops.convert_to_numpy(one_hot).tolist() == SEED_ONE_HOT


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_seed_example_one_hot_is_golden(sparse):
    feature = make_feature({"cross": ["s1", "i1"], "num_bins": 5, "output": "one_hot",
                            "sparse": sparse})
    encoded = encode(compute_feature(feature, columns(SEED_COLUMNS)),
                     feature)
    if sparse:
        encoded = tf.sparse.to_dense(encoded)
    assert encoded.dtype == tf.float32
    np.testing.assert_array_equal(encoded, np.array(SEED_ONE_HOT, np.float32))


# --- Crosses ------------------------------------------------------------------

CROSS_CASES = {
    "string_x_int": {"s1": EDGE_STRINGS, "i1": EDGE_INTS},
    "string_x_string": {"s1": EDGE_STRINGS, "s2": OTHER_STRINGS},
    "int_x_string": {"i1": EDGE_INTS, "s1": EDGE_STRINGS},
    "three_inputs": {"s1": EDGE_STRINGS, "i1": EDGE_INTS, "s2": OTHER_STRINGS},
}


@pytest.mark.parametrize("num_bins", NUM_BINS)
@pytest.mark.parametrize("case", CROSS_CASES)
def test_cross_matches_cross_hashed_and_keras(case, num_bins):
    data = CROSS_CASES[case]
    feature = make_feature({"cross": list(data), "num_bins": num_bins})
    ids = compute_feature(feature, columns(data))
    expected = tf.sparse.cross_hashed([as_2d(column(v)) for v in data.values()],
                                      num_buckets=num_bins)  # TF's default hash key
    np.testing.assert_array_equal(ids, expected.values)
    keras_ids = keras.layers.HashedCrossing(num_bins=num_bins)(
        tuple(np.array(v) for v in data.values()))
    np.testing.assert_array_equal(ids, keras.ops.convert_to_numpy(keras_ids))


def test_cross_hash_key_is_passed_and_changes_ids():
    data = CROSS_CASES["string_x_int"]
    tensors = columns(data)
    keyed = make_feature({"cross": list(data), "num_bins": 2**40, "hash_key": 12345})
    default = make_feature({"cross": list(data), "num_bins": 2**40})
    ids = compute_feature(keyed, tensors)
    expected = tf.sparse.cross_hashed([as_2d(t) for t in tensors.values()],
                                      num_buckets=2**40, hash_key=12345)
    np.testing.assert_array_equal(ids, expected.values)
    assert not np.any(ids.numpy() == compute_feature(default, tensors).numpy())


@pytest.mark.parametrize("hash_key", [None, 12345], ids=["default_key", "key_12345"])
def test_cross_matches_feature_column_crossed_column(hash_key):
    data = CROSS_CASES["string_x_int"]
    spec = {"cross": list(data), "num_bins": 97}
    if hash_key is not None:
        spec["hash_key"] = hash_key
    ids = compute_feature(make_feature(spec), columns(data))
    crossed = tf.feature_column.crossed_column(list(data), 97, hash_key=hash_key)
    layer = tf_keras.layers.DenseFeatures([tf.feature_column.indicator_column(crossed)])
    indicator = layer({k: as_2d(column(v)) for k, v in data.items()})
    np.testing.assert_array_equal(ids, tf.argmax(indicator, axis=1))


@pytest.mark.parametrize("num_bins", NUM_BINS)
@pytest.mark.parametrize("scalar", ["s1", "i1"])
@pytest.mark.parametrize("sequence_first", [True, False], ids=["sequence_first",
                                                               "scalar_first"])
def test_sequence_cross_is_cartesian_product_in_listed_order(sequence_first, scalar, num_bins):
    names = ["tokens", scalar] if sequence_first else [scalar, "tokens"]
    tensors = {"tokens": sequence(TOKENS), scalar: column(SCALARS[scalar])}
    ids = compute_feature(make_feature({"cross": names, "num_bins": num_bins}), tensors)
    all_sparse = {"tokens": tensors["tokens"], scalar: one_per_row(tensors[scalar])}
    expected = tf.sparse.cross_hashed([all_sparse[n] for n in names], num_buckets=num_bins)
    assert_sparse_equal(ids, expected)
    # Row by row: one id per token, in token order; an empty sequence gives none.
    for row, (tokens, value) in enumerate(zip(TOKENS, SCALARS[scalar])):
        pairs = [(t, value) if sequence_first else (value, t) for t in tokens]
        dtypes = [tf.string, tensors[scalar].dtype][::1 if sequence_first else -1]
        assert sparse_rows(ids)[row] == [single_cross(p, dtypes, num_bins) for p in pairs]


def test_mixed_cross_matches_crossed_column_on_a_dense_scalar():
    """crossed_column fed a dense scalar and a sparse sequence hashes the sequence
    first (TF's kernel order), so the config lists the sequence first."""
    tensors = {"s1": column(SCALARS["s1"]), "tokens": sequence(TOKENS)}
    ids = compute_feature(make_feature({"cross": ["tokens", "s1"], "num_bins": 97}), tensors)
    crossed = tf.feature_column.crossed_column(["s1", "tokens"], 97)
    layer = tf_keras.layers.DenseFeatures([tf.feature_column.indicator_column(crossed)])
    counts = layer({"s1": as_2d(tensors["s1"]), "tokens": tensors["tokens"]}).numpy()
    expected = [np.bincount(row, minlength=97) for row in sparse_rows(ids)]
    np.testing.assert_array_equal(counts, np.stack(expected))


def test_two_sequences_cross_to_all_pairs():
    feature = make_feature({"cross": ["tokens", "codes"], "num_bins": 5000})
    tensors = {"tokens": sequence(TOKENS), "codes": sequence(CODES)}
    ids = compute_feature(feature, tensors)
    assert_sparse_equal(ids, tf.sparse.cross_hashed([tensors["tokens"], tensors["codes"]],
                                                    num_buckets=5000))
    dtypes = [tf.string, tf.int64]
    assert sparse_rows(ids) == [[single_cross(p, dtypes, 5000) for p in itertools.product(a, b)]
                                for a, b in zip(TOKENS, CODES)]


# --- Hashes -------------------------------------------------------------------

@pytest.mark.parametrize("num_bins", NUM_BINS)
@pytest.mark.parametrize("values", [EDGE_STRINGS, EDGE_INTS], ids=["strings", "ints"])
def test_hash_matches_keras_hashing_and_to_hash_bucket_fast(values, num_bins):
    name = "i1" if isinstance(values[0], int) else "s1"
    ids = compute_feature(make_feature({"hash": name, "num_bins": num_bins}),
                          {name: column(values)})
    keras_ids = keras.layers.Hashing(num_bins=num_bins)(np.array(values))
    np.testing.assert_array_equal(ids, keras.ops.convert_to_numpy(keras_ids))
    fast = tf.strings.to_hash_bucket_fast(tf.strings.as_string(column(values))
                                          if name == "i1" else column(values), num_bins)
    np.testing.assert_array_equal(ids, fast)


SALTS = [pytest.param(42, id="salt_42"), pytest.param([1, 2], id="salt_1_2"),
         pytest.param([2**40, 7], id="salt_large")]


@pytest.mark.parametrize("values", [EDGE_STRINGS, EDGE_INTS], ids=["strings", "ints"])
@pytest.mark.parametrize("salt", SALTS)
def test_salted_hash_matches_keras_hashing(salt, values):
    name = "i1" if isinstance(values[0], int) else "s1"
    ids = compute_feature(make_feature({"hash": name, "num_bins": 5000, "salt": salt}),
                          {name: column(values)})
    keras_ids = keras.layers.Hashing(num_bins=5000, salt=salt)(np.array(values))
    np.testing.assert_array_equal(ids, keras.ops.convert_to_numpy(keras_ids))


def test_salt_changes_ids():
    tensors = {"s1": column(EDGE_STRINGS)}
    hashed = {str(salt): compute_feature(make_feature({"hash": "s1", "num_bins": 2**40,
                                                       "salt": salt}), tensors).numpy()
              for salt in (None, 42, [42, 43])}
    assert not np.any(hashed["None"] == hashed["42"])
    assert not np.any(hashed["42"] == hashed["[42, 43]"])


def test_scalar_hash_matches_categorical_column_with_hash_bucket():
    """Equal ids, except that feature columns drop "" as missing; we hash it."""
    values = column(EDGE_STRINGS)
    ids = compute_feature(make_feature({"hash": "s1", "num_bins": 97}), {"s1": values})
    hashed = tf.feature_column.categorical_column_with_hash_bucket("s1", 97)
    layer = tf_keras.layers.DenseFeatures([tf.feature_column.indicator_column(hashed)])
    indicator = layer({"s1": as_2d(values)}).numpy()
    present = np.array(EDGE_STRINGS) != ""
    np.testing.assert_array_equal(ids.numpy()[present], indicator[present].argmax(axis=1))
    assert not indicator[~present].any()
    assert ids.numpy()[~present] == tf.strings.to_hash_bucket_fast([""], 97).numpy()


@pytest.mark.parametrize("name,rows", [("tokens", TOKENS), ("codes", CODES)],
                         ids=["strings", "ints"])
def test_sequence_hash_matches_sequence_categorical_column(name, rows):
    values = sequence(rows)
    ids = compute_feature(make_feature({"hash": name, "num_bins": 97}), {name: values})
    np.testing.assert_array_equal(ids.indices, values.indices)  # order and length kept
    hashed = tf.feature_column.sequence_categorical_column_with_hash_bucket(
        name, 97, dtype=values.dtype)
    layer = tf_keras.experimental.SequenceFeatures([tf.feature_column.indicator_column(hashed)])
    indicator, lengths = layer({name: values})
    positions = tf.argmax(indicator, axis=2).numpy()
    expected = [positions[row, :length].tolist() for row, length in enumerate(lengths.numpy())]
    assert sparse_rows(ids) == expected
    assert_sparse_equal(ids, keras.layers.Hashing(num_bins=97)(values))


# --- Bucketize, product, polynomial --------------------------------------------

@pytest.mark.parametrize("name,boundaries,values", [
    pytest.param("x", [-1.5, 0.0, 2.5, 100.0],
                 [-10.0, -1.5, -1.4999, -0.0, 0.0, 1.0, 2.5, 99.99, 100.0, 1e9], id="floats"),
    pytest.param("i1", [3, 6, 9, 12], [-5, 0, 2, 3, 5, 6, 9, 11, 12, 13, 2**40], id="ints"),
])
def test_explicit_buckets_match_keras_discretization(name, boundaries, values):
    tensor = tf.constant(values, tf.int64 if name == "i1" else tf.float32)
    ids = compute_feature(make_feature({"bucketize": name, "boundaries": boundaries}),
                          {name: tensor})
    keras_ids = keras.layers.Discretization(bin_boundaries=boundaries)(tensor.numpy())
    np.testing.assert_array_equal(ids, keras.ops.convert_to_numpy(keras_ids))
    # docs/config.md "What each transform means": boundaries[i-1] <= x < boundaries[i]: on a
    # boundary goes up.
    np.testing.assert_array_equal(ids, np.searchsorted(boundaries, values, side="right"))


def random_columns(seed: int = 7, rows: int = 64) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = {n: (rng.normal(size=rows) * 50).astype(np.float32) for n in ("x", "y", "z")}
    data["i1"] = rng.integers(-1000, 1000, size=rows)
    return data


def test_product_matches_numpy_float32():
    data = random_columns()
    result = compute_feature(make_feature({"product": ["x", "i1", "y"]}),
                             {k: tf.constant(v) for k, v in data.items()})
    expected = data["x"] * data["i1"].astype(np.float32) * data["y"]
    assert result.dtype == tf.float32
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("degree,interaction_only,include_bias", [
    pytest.param(1, False, True, id="degree1-bias"),
    pytest.param(2, False, True, id="degree2-bias"),
    pytest.param(2, True, False, id="degree2-interaction_only"),
    pytest.param(3, False, False, id="degree3"),
    pytest.param(3, True, True, id="degree3-interaction_only-bias"),
])
def test_polynomial_matches_sklearn(degree, interaction_only, include_bias):
    names = ["x", "y", "i1", "z"]
    feature = make_feature({"polynomial": names, "degree": degree,
                            "interaction_only": interaction_only,
                            "include_bias": include_bias})
    data = random_columns()
    result = compute_feature(feature, {k: tf.constant(v) for k, v in data.items()})
    sklearn = PolynomialFeatures(degree=degree, interaction_only=interaction_only,
                                 include_bias=include_bias)
    matrix = np.stack([data[n].astype(np.float64) for n in names], axis=1)
    assert result.dtype == tf.float32
    np.testing.assert_allclose(result, sklearn.fit_transform(matrix), rtol=1e-6)
    sklearn_names = [n.replace(" ", "*") for n in sklearn.get_feature_names_out(names)]
    assert feature.polynomial_term_names() == sklearn_names


# --- Encodings ------------------------------------------------------------------

SPARSE = pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])


@SPARSE
def test_cross_one_hot_matches_keras_hashed_crossing(sparse):
    data = CROSS_CASES["string_x_int"]
    feature = make_feature({"cross": list(data), "num_bins": 64, "output": "one_hot",
                            "sparse": sparse})
    encoded = encode(compute_feature(feature, columns(data)), feature)
    layer = keras.layers.HashedCrossing(num_bins=64, output_mode="one_hot", sparse=sparse)
    assert_encoded_equal(encoded, layer(tuple(np.array(v) for v in data.values())))


@SPARSE
def test_salted_hash_one_hot_matches_keras_hashing(sparse):
    feature = make_feature({"hash": "s1", "num_bins": 32, "salt": 42, "output": "one_hot",
                            "sparse": sparse})
    encoded = encode(compute_feature(feature, {"s1": column(EDGE_STRINGS)}), feature)
    layer = keras.layers.Hashing(num_bins=32, salt=42, output_mode="one_hot", sparse=sparse)
    assert_encoded_equal(encoded, layer(np.array(EDGE_STRINGS)))


@SPARSE
def test_sequence_multi_hot_matches_keras_hashing(sparse):
    feature = make_feature({"hash": "tokens", "num_bins": 16, "output": "multi_hot",
                            "sparse": sparse})
    tokens = sequence(TOKENS)
    ids = compute_feature(feature, {"tokens": tokens})
    encoded = encode(ids, feature)
    layer = keras.layers.Hashing(num_bins=16, output_mode="multi_hot", sparse=sparse)
    assert_encoded_equal(encoded, layer(tokens))
    # Presence, not counts: row 2 repeats "a" and still has one 1.0 per distinct bin.
    dense = (tf.sparse.to_dense(encoded) if sparse else encoded).numpy()
    assert dense.max() == 1.0
    assert dense.sum(axis=1).tolist() == [len(set(row)) for row in sparse_rows(ids)]


def test_sequence_cross_multi_hot_sparse_equals_dense():
    tensors = {"tokens": sequence(TOKENS), "s1": column(SCALARS["s1"])}
    encodings = [encode(compute_feature(feature, tensors), feature) for feature in (
        make_feature({"cross": ["tokens", "s1"], "num_bins": 8, "output": "multi_hot",
                      "sparse": sparse}) for sparse in (False, True))]
    np.testing.assert_array_equal(encodings[0], tf.sparse.to_dense(encodings[1]))


def test_every_kind_dispatch_raises_on_an_unknown_kind():
    """A kind added to the config without teaching these about it must fail loudly."""
    from pipeline.config import UnknownKindError
    from pipeline.config.plan import describe
    from pipeline.transform import output_specs as outputs
    for kind_of in ({"product": ["x", "y"]}, {"polynomial": ["x", "y"]}):
        unknown = dataclasses.replace(make_feature(kind_of), kind="embedding")
        with pytest.raises(UnknownKindError, match="'embedding'"):
            compute_feature(unknown, columns({"x": [1], "y": [2]}))
        with pytest.raises(UnknownKindError, match="'embedding'"):
            outputs._feature_spec(unknown)
        with pytest.raises(UnknownKindError, match="'embedding'"):
            describe(unknown)
