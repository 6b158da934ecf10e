"""`ckptctl.objgraph`: the object graph parser agrees with TensorFlow's own proto, and the
object paths, owners and optimizer slots it derives are right."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ckptctl
from ckptctl.errors import CheckpointError
from ckptctl.objgraph import (
    OBJECT_GRAPH_KEY,
    KeyInfo,
    ObjectGraph,
    _scan_nodes,
    parse_object_graph,
    parse_object_graph_reference,
)
from tests.checkpoints import VARIABLE_SUFFIX

GRAPH_SOURCES = [
    "my_model",
    "custom_model",
    "versioned_model",
    "keras2",
    "saved_model",
    "dtypes",
    "sharded",
    "external_tf2",
]


def _prefix_of(request: pytest.FixtureRequest, name: str) -> Path:
    """A checkpoint with an object graph, by a short name."""
    if name in ("my_model", "custom_model", "versioned_model"):
        return Path(request.getfixturevalue("samples_dir")) / name
    if name == "keras2":
        return Path(request.getfixturevalue("keras2_dir"))
    if name == "saved_model":
        return Path(request.getfixturevalue("saved_model_dir"))
    if name == "dtypes":
        return Path(request.getfixturevalue("dtypes_ckpt"))
    if name == "sharded":
        return Path(request.getfixturevalue("sharded_ckpt"))
    assert name == "external_tf2"
    external = Path(request.getfixturevalue("external_fixtures"))
    return external / "saved_model_half_plus_two_tf2_cpu" / "00000123"


def graph_bytes(path: Path) -> bytes:
    """The serialized object graph of a checkpoint, as ckptctl reads it."""
    with ckptctl.open_checkpoint(path) as ckpt:
        raw = ckptctl_item(ckpt.read(OBJECT_GRAPH_KEY))
    assert isinstance(raw, bytes)
    return raw


def ckptctl_item(value: Any) -> Any:
    return value.item() if value.shape == () else value.reshape(-1)[0]


def tf_graph(data: bytes) -> Any:
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    proto = trackable_object_graph_pb2.TrackableObjectGraph()
    proto.ParseFromString(data)
    return proto


def assert_same_graph(graph: ObjectGraph, proto: Any) -> None:
    assert len(graph.nodes) == len(proto.nodes)
    for i, (node, expected) in enumerate(zip(graph.nodes, proto.nodes, strict=True)):
        assert node.id == i
        assert [(child, name) for name, child in node.children] == [
            (c.node_id, c.local_name) for c in expected.children
        ], f"children of node {i}"
        assert [(a.name, a.full_name, a.checkpoint_key) for a in node.attributes] == [
            (a.name, a.full_name, a.checkpoint_key) for a in expected.attributes
        ], f"attributes of node {i}"
        assert [(s.original_node, s.slot_name, s.slot_node) for s in node.slot_variables] == [
            (s.original_variable_node_id, s.slot_name, s.slot_variable_node_id)
            for s in expected.slot_variables
        ], f"slot variables of node {i}"


@pytest.fixture(scope="module")
def my_model_bytes(samples_dir: Path) -> bytes:
    return graph_bytes(samples_dir / "my_model")


@pytest.fixture(scope="module")
def my_model_graph(my_model_bytes: bytes) -> ObjectGraph:
    return parse_object_graph(my_model_bytes, "my_model")


@pytest.fixture(scope="module")
def my_model_infos(my_model_graph: ObjectGraph) -> dict[str, KeyInfo]:
    return my_model_graph.key_infos()


# --- the parser against TensorFlow's proto ----------------------------------------------------


@pytest.mark.parametrize("name", GRAPH_SOURCES)
def test_parse_matches_tensorflows_proto(request: pytest.FixtureRequest, name: str) -> None:
    data = graph_bytes(_prefix_of(request, name))
    assert_same_graph(parse_object_graph(data, name), tf_graph(data))


@pytest.mark.parametrize("name", GRAPH_SOURCES)
def test_graph_names_every_checkpoint_key_by_its_object_path(
    request: pytest.FixtureRequest, name: str
) -> None:
    """Every key in the index is named by the graph; a value's key is its path plus a suffix."""
    import tensorflow as tf

    path = _prefix_of(request, name)
    with ckptctl.open_checkpoint(path) as ckpt:
        prefix = ckpt.prefix
    infos = parse_object_graph(graph_bytes(path), name).key_infos()
    keys = {k for k, _ in tf.train.list_variables(prefix)} - {OBJECT_GRAPH_KEY}
    assert set(infos) == keys
    for key, info in infos.items():
        assert info.key == key
        assert key == info.path.replace(".", "/") + VARIABLE_SUFFIX
        assert info.owner == info.path.split(".")[0]


def test_external_tf2_graph_keeps_its_trailing_nul_bytes(external_fixtures: Path) -> None:
    """Regression: numpy's fixed-width bytes dtype dropped the graph's trailing NULs."""
    import tensorflow as tf

    prefix = external_fixtures / "saved_model_half_plus_two_tf2_cpu/00000123/variables/variables"
    expected = tf.train.load_checkpoint(str(prefix)).get_tensor(OBJECT_GRAPH_KEY)
    assert expected.endswith(b"\x00"), "the fixture no longer exercises the regression"
    data = graph_bytes(prefix)
    assert data == expected
    assert_same_graph(parse_object_graph(data, str(prefix)), tf_graph(data))


# --- paths, owners and slots ------------------------------------------------------------------


def test_model_variable_path_and_owner(my_model_infos: dict[str, KeyInfo]) -> None:
    info = my_model_infos["model/dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE"]
    assert info.path == "model.dense1._kernel"
    assert info.owner == "model"
    assert info.full_name == "my_model/kernel"
    assert info.slot_of is None
    assert info.slot_name is None


def test_save_counter_is_its_own_owner(my_model_infos: dict[str, KeyInfo]) -> None:
    info = my_model_infos["save_counter/.ATTRIBUTES/VARIABLE_VALUE"]
    assert info.path == "save_counter"
    assert info.owner == "save_counter"
    assert info.slot_of is None


def test_optimizer_scalars_are_not_slots(my_model_infos: dict[str, KeyInfo]) -> None:
    for name in ("_iterations", "_learning_rate"):
        info = my_model_infos[f"optimizer/{name}/.ATTRIBUTES/VARIABLE_VALUE"]
        assert info.path == f"optimizer.{name}"
        assert info.owner == "optimizer"
        assert info.slot_of is None
        assert info.slot_name is None


def test_keras3_slots_belong_to_the_right_model_variable(
    my_model_infos: dict[str, KeyInfo],
) -> None:
    def slot(n: int) -> KeyInfo:
        return my_model_infos[f"optimizer/_variables/{n}/.ATTRIBUTES/VARIABLE_VALUE"]

    assert (slot(2).path, slot(2).owner) == ("optimizer._variables.2", "optimizer")
    assert (slot(2).slot_of, slot(2).slot_name) == ("model.dense1._kernel", "momentum")
    assert (slot(3).slot_of, slot(3).slot_name) == ("model.dense1._kernel", "velocity")
    expected = {
        4: ("model.dense1.bias", "momentum"),
        5: ("model.dense1.bias", "velocity"),
        6: ("model.dense2._kernel", "momentum"),
        7: ("model.dense2._kernel", "velocity"),
        8: ("model.dense2.bias", "momentum"),
        9: ("model.dense2.bias", "velocity"),
    }
    for n, (slot_of, slot_name) in expected.items():
        assert (slot(n).slot_of, slot(n).slot_name) == (slot_of, slot_name)


@pytest.mark.parametrize("name", ["my_model", "custom_model", "versioned_model"])
def test_keras3_slot_names_agree_with_their_full_names(
    request: pytest.FixtureRequest, name: str
) -> None:
    """The slot kind read from the graph's structure is the one TensorFlow put in full_name."""
    path = _prefix_of(request, name)
    infos = parse_object_graph(graph_bytes(path), name).key_infos()
    slots = [i for i in infos.values() if i.slot_of is not None]
    model_paths = {i.path for i in infos.values() if i.owner == "model"}
    assert len(slots) == 2 * len(model_paths) == 8
    for info in slots:
        assert info.slot_name in ("momentum", "velocity")
        assert info.full_name is not None
        assert info.full_name.endswith(f"_{info.slot_name}"), (info.key, info.full_name)
        assert info.slot_of in model_paths
    pairs = sorted((i.slot_of or "", i.slot_name or "") for i in slots)
    assert pairs == sorted((p, kind) for p in model_paths for kind in ("momentum", "velocity"))


def test_keras3_slot_full_names_name_the_layer_and_variable(
    my_model_infos: dict[str, KeyInfo],
) -> None:
    """`adam/my_model_dense_kernel_momentum` is dense1's kernel; `dense_1` is dense2."""
    layer_of = {"dense1": "dense", "dense2": "dense_1"}
    for info in my_model_infos.values():
        if info.slot_of is None:
            continue
        _, layer, variable = info.slot_of.split(".")
        expected = f"adam/my_model_{layer_of[layer]}_{variable.lstrip('_')}_{info.slot_name}"
        assert info.full_name == expected


def test_keras2_paths_have_no_underscore(keras2_dir: Path) -> None:
    infos = parse_object_graph(graph_bytes(keras2_dir), "keras2").key_infos()
    paths = {i.path for i in infos.values() if i.owner == "model"}
    assert paths == {
        "model.dense1.kernel",
        "model.dense1.bias",
        "model.dense2.kernel",
        "model.dense2.bias",
    }


def test_child_names_and_node_paths(my_model_graph: ObjectGraph) -> None:
    assert my_model_graph.child_names() == ["model", "optimizer", "save_counter"]
    paths = my_model_graph.node_paths()
    assert paths[0] == ()
    assert ("model", "dense1", "_kernel") in paths.values()
    # Every reachable node has exactly one (shortest) path, and paths are unique.
    assert len(set(paths.values())) == len(paths)


# --- corrupt bytes ----------------------------------------------------------------------------


def _parse_or_checkpoint_error(data: bytes) -> ObjectGraph | None:
    try:
        graph = parse_object_graph(data, "fuzz.index")
    except CheckpointError as e:
        assert "fuzz.index" in e.message
        return None
    # Whatever parses must also be usable.
    graph.node_paths()
    graph.keras_slots()
    graph.key_infos()
    return graph


def test_every_truncation_of_a_real_graph_parses_or_raises_checkpoint_error(
    my_model_bytes: bytes,
) -> None:
    data = my_model_bytes
    failures = 0
    for n in range(len(data)):
        if _parse_or_checkpoint_error(data[:n]) is None:
            failures += 1
    assert failures > len(data) // 2
    assert _parse_or_checkpoint_error(data) is not None


def test_empty_graph_is_an_error() -> None:
    with pytest.raises(CheckpointError, match="empty"):
        parse_object_graph(b"", "x.index")


def test_child_pointing_to_a_missing_node_is_an_error() -> None:
    proto = tf_graph(b"")
    proto.nodes.add().children.add(node_id=5, local_name="ghost")
    with pytest.raises(CheckpointError, match="missing node 5"):
        parse_object_graph(proto.SerializeToString(), "x.index")


def test_invalid_utf8_name_is_an_error() -> None:
    # node { children { node_id: 0, local_name: b"\xff" } }
    data = bytes([0x0A, 0x07, 0x0A, 0x05, 0x08, 0x00, 0x12, 0x01, 0xFF])
    with pytest.raises(CheckpointError, match="corrupt"):
        parse_object_graph(data, "x.index")


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(max_size=512))
def test_random_bytes_parse_or_raise_checkpoint_error(data: bytes) -> None:
    _parse_or_checkpoint_error(data)


@settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.data())
def test_mutated_real_graph_parses_or_raises_checkpoint_error(
    my_model_bytes: bytes, data: st.DataObject
) -> None:
    mutated = bytearray(my_model_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(mutated) - 1))
        mutated[i] = data.draw(st.integers(0, 255))
    _parse_or_checkpoint_error(bytes(mutated))


_names = st.text(st.characters(codec="utf-8"), max_size=6) | st.sampled_from(
    ["model", "optimizer", "_trainable_variables", "_variables", "_momentums", "0", "1", "2"]
)


@st.composite
def graphs(draw: st.DrawFn) -> bytes:
    """A structurally valid TrackableObjectGraph, possibly with dangling or cyclic references."""
    n = draw(st.integers(1, 8))
    proto = tf_graph(b"")
    for _ in range(n):
        node = proto.nodes.add()
        for _ in range(draw(st.integers(0, 4))):
            node.children.add(node_id=draw(st.integers(0, n)), local_name=draw(_names))
        for _ in range(draw(st.integers(0, 2))):
            node.attributes.add(
                name=draw(st.sampled_from(["VARIABLE_VALUE", "OTHER"])),
                full_name=draw(_names),
                checkpoint_key=draw(_names),
            )
        for _ in range(draw(st.integers(0, 1))):
            node.slot_variables.add(
                original_variable_node_id=draw(st.integers(0, n + 1)),
                slot_name=draw(_names),
                slot_variable_node_id=draw(st.integers(0, n + 1)),
            )
    return bytes(proto.SerializeToString())


@settings(max_examples=200, deadline=None, database=None)
@given(graphs())
def test_generated_graphs_match_tensorflow_or_raise_checkpoint_error(data: bytes) -> None:
    proto = tf_graph(data)
    dangling = any(not 0 <= c.node_id < len(proto.nodes) for n in proto.nodes for c in n.children)
    if dangling:
        with pytest.raises(CheckpointError, match="missing node"):
            parse_object_graph(data, "gen.index")
        return
    graph = _parse_or_checkpoint_error(data)
    assert graph is not None
    assert_same_graph(graph, proto)


def test_list_like_node_with_a_non_decimal_digit_name_parses_or_raises_checkpoint_error() -> None:
    """`"²".isdigit()` is true but `int("²")` fails: a corrupt name must not crash key_infos."""
    proto = tf_graph(b"")
    root = proto.nodes.add()
    root.children.add(node_id=1, local_name="_trainable_variables")
    root.children.add(node_id=3, local_name="_momentums")
    proto.nodes.add().children.add(node_id=2, local_name="\N{SUPERSCRIPT TWO}")
    proto.nodes.add().attributes.add(name="VARIABLE_VALUE", full_name="v", checkpoint_key="v")
    proto.nodes.add().children.add(node_id=2, local_name="0")
    _parse_or_checkpoint_error(proto.SerializeToString())


# --- the specialised decoder against the general one -------------------------------------------


def _outcome(parse: Any, data: bytes) -> Any:
    """What a parser makes of ``data``: its nodes, or the error's message and hint."""
    try:
        return parse(data, "x.index").nodes
    except CheckpointError as e:
        return e.message, e.hint


def assert_decoders_agree(data: bytes) -> None:
    assert _outcome(parse_object_graph, data) == _outcome(parse_object_graph_reference, data)


@pytest.mark.parametrize("name", [*GRAPH_SOURCES, "convnet"])
def test_specialised_decoder_agrees_with_the_general_one(
    request: pytest.FixtureRequest, name: str
) -> None:
    """On real graphs (a Keras 3 model compiled and fitted, with its optimizer's slots; Keras
    2's slot variables, which the general decoder reads) both give the same nodes and keys, and
    the specialised one reads TensorFlow's framing itself."""
    if name == "convnet":
        data = graph_bytes(request.getfixturevalue("fitted_convnet_ckpt"))
    else:
        data = graph_bytes(_prefix_of(request, name))
    assert _scan_nodes(data) is not None
    fast, general = parse_object_graph(data, name), parse_object_graph_reference(data, name)
    assert fast.nodes == general.nodes
    assert fast.key_infos() == general.key_infos()
    if name in ("convnet", "keras2"):
        assert any(info.slot_of for info in fast.key_infos().values())


def test_every_truncation_of_a_real_graph_decodes_alike(my_model_bytes: bytes) -> None:
    outcomes = [
        _outcome(parse_object_graph, my_model_bytes[:n]) for n in range(len(my_model_bytes))
    ]
    general = [
        _outcome(parse_object_graph_reference, my_model_bytes[:n])
        for n in range(len(my_model_bytes))
    ]
    assert outcomes == general
    assert sum(isinstance(o, tuple) for o in outcomes) > len(outcomes) // 2


def test_keras2_graph_with_slot_variables_decodes_alike_when_truncated(keras2_dir: Path) -> None:
    data = graph_bytes(keras2_dir)
    for n in range(0, len(data), max(1, len(data) // 500)):
        assert_decoders_agree(data[:n])


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.data())
def test_mutated_real_graph_decodes_alike(my_model_bytes: bytes, data: st.DataObject) -> None:
    mutated = bytearray(my_model_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(mutated) - 1))
        mutated[i] = data.draw(st.integers(0, 255))
    assert_decoders_agree(bytes(mutated))


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(max_size=512))
def test_random_bytes_decode_alike(data: bytes) -> None:
    assert_decoders_agree(data)


@settings(max_examples=200, deadline=None, database=None)
@given(graphs())
def test_generated_graphs_decode_alike(data: bytes) -> None:
    assert_decoders_agree(data)


@pytest.mark.parametrize(
    "data",
    [
        # a child whose name's length byte has its continuation bit set
        bytes([0x0A, 0x09, 0x0A, 0x07, 0x08, 0x00, 0x12, 0x81, 0x01, 0x61, 0x62]),
        # a child id as a two-byte varint, and a name as long as the rest
        bytes([0x0A, 0x08, 0x0A, 0x06, 0x08, 0x81, 0x00, 0x12, 0x01, 0x61]),
        # an attribute with a fourth field (optional_restore), which the general decoder skips
        bytes([0x0A, 0x07, 0x12, 0x05, 0x0A, 0x01, 0x61, 0x20, 0x01]),
        # an attribute string longer than 127 bytes
        bytes([0x0A, 0x86, 0x01, 0x12, 0x83, 0x01, 0x1A, 0x80, 0x01]) + b"k" * 128,
        # a field of the graph other than its nodes
        bytes([0x12, 0x00, 0x0A, 0x00]),
        # a node's string that is not UTF-8
        bytes([0x0A, 0x05, 0x12, 0x03, 0x12, 0x01, 0xFF]),
    ],
)
def test_unusual_encodings_decode_alike(data: bytes) -> None:
    assert_decoders_agree(data)
