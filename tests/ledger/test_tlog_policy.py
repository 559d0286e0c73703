"""C2SP tlog-policy files and cosignature/v1 keys (ledger/tlog_policy.py, ADR 0035)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.signed_note import CosignerKey, NoteError, Signer, cosigned_message
from ledger.tlog_policy import PolicyError, parse_policy
from tests.tlog.witness import SpecWitness


def witness_key(name: str) -> str:
    return SpecWitness(name, logs={}).vkey


W = {n: witness_key(f"witness.example/{n}") for n in ("a", "b", "c", "d")}


def test_a_group_of_groups_is_met_only_by_enough_of_each() -> None:
    policy = parse_policy(
        f"""
        # two operators
        log {Signer.generate("give.example.org/tlog").verifier.vkey}
        witness a {W["a"]} https://a.example/w
        witness b {W["b"]}\thttps://b.example/w
        witness c {W["c"]}
        group x 2 a b c
        witness d {W["d"]}
        group y any d
        group both all x y
        quorum both
        """
    )
    assert policy.describe() == "2 of (2 of (a, b, c), 1 of (d))"
    assert not policy.satisfied({"a", "b"})
    assert not policy.satisfied({"a", "d"})
    assert policy.satisfied({"a", "c", "d"})
    assert policy.witnesses["c"].url is None
    assert policy.witnesses["b"].url == "https://b.example/w"


def test_quorum_none_needs_no_witness() -> None:
    policy = parse_policy("quorum none\n")
    assert policy.satisfied(())
    assert policy.describe() == "none"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no quorum line"),
        ("quorum x\n", "not defined above"),
        (f"witness a {W['a']}\nquorum a\nquorum a\n", "a second quorum"),
        (f"group g any a\nwitness a {W['a']}\nquorum g\n", "not defined above"),
        (f"witness a {W['a']}\nwitness a {W['b']}\nquorum a\n", "defined twice"),
        (f"witness a {W['a']}\nwitness b {W['a']}\nquorum a\n", "listed twice"),
        (f"witness none {W['a']}\nquorum none\n", "predefined"),
        (f"witness a {W['a']}\ngroup g 2 a\nquorum g\n", "threshold"),
        (f"witness a {W['a']}\ngroup g 0 a\nquorum g\n", "threshold"),
        (f"witness a {W['a']}\ngroup g 01 a\nquorum g\n", "threshold"),
        (f"witness a {W['a']}\ngroup g any a\ngroup h any a\nquorum h\n", "a member already"),
        (f"witness a {W['a']}\ngroup g any a a\nquorum g\n", "a member already"),
        (f"witness a {W['a']} https://x extra\nquorum a\n", "witness <name> <vkey>"),
        ("witnesses a b\nquorum none\n", "'witnesses' is not"),
        (f"witness a {W['a']}\rquorum a\n", "control character"),
        (f"witness a {Signer.generate('a.example').verifier.vkey}\nquorum a\n", "type 0x01"),
    ],
)
def test_a_malformed_policy_is_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(text)


def test_too_many_witnesses_are_refused() -> None:
    lines = [f"witness w{i} {witness_key(f'w.example/{i}')}" for i in range(33)]
    with pytest.raises(PolicyError, match="more than 32 witnesses"):
        parse_policy("\n".join(lines) + "\nquorum none\n")


# -- cosignature keys and signatures ---------------------------------------------------------


def test_a_witness_key_reads_back_and_its_id_uses_type_0x04() -> None:
    witness = SpecWitness("witness.example/w1", logs={})
    key = CosignerKey.parse(witness.vkey)
    assert key.vkey == witness.vkey
    assert key.key_id == witness.key_id


@pytest.mark.parametrize(
    "mutate",
    [
        lambda v: v.replace("+", " +", 1),  # a name with a space
        lambda v: v.rsplit("+", 1)[0],  # no key
        lambda v: v.split("+", 1)[0] + "+" + v.split("+")[1].upper() + "+" + v.split("+", 2)[2],
        lambda v: v.split("+", 1)[0] + "+00000000+" + v.split("+", 2)[2],
        lambda v: v + "=",  # not canonical base64
        lambda v: v[:-4],  # short
    ],
)
def test_a_witness_key_is_read_strictly(mutate: object) -> None:
    vkey = SpecWitness("witness.example/w1", logs={}).vkey
    changed = mutate(vkey)  # type: ignore[operator]
    if changed == vkey:
        pytest.skip("the mutation changed nothing")
    with pytest.raises(NoteError):
        CosignerKey.parse(changed)


def test_an_ml_dsa_key_is_refused() -> None:
    raw = b"\x06" + bytes(1312)
    with pytest.raises(NoteError, match="not a cosignature/v1 key"):
        CosignerKey.parse("w.example+01020304+" + base64.b64encode(raw).decode())


TEXT = "give.example.org/tlog\n12\n" + base64.b64encode(bytes(32)).decode() + "\n"


def test_a_cosignature_by_the_spec_witness_opens_with_its_time() -> None:
    witness = SpecWitness("witness.example/w1", logs={})
    line = witness.cosign(TEXT, timestamp=1_679_315_147)
    key = CosignerKey.parse(witness.vkey)
    raw = base64.b64decode(line.split(" ")[2])
    assert key.open(TEXT, raw) == 1_679_315_147
    assert key.line(raw) == line


def test_the_signed_message_is_the_header_the_time_and_the_checkpoint() -> None:
    assert cosigned_message(TEXT, 7) == b"cosignature/v1\ntime 7\n" + TEXT.encode()


@pytest.mark.parametrize("where", ["time", "signature", "text", "key id"])
def test_a_changed_cosignature_does_not_open(where: str) -> None:
    witness = SpecWitness("witness.example/w1", logs={})
    key = CosignerKey.parse(witness.vkey)
    raw = bytearray(base64.b64decode(witness.cosign(TEXT, timestamp=100).split(" ")[2]))
    text = TEXT
    if where == "time":
        raw[11] ^= 1
    elif where == "signature":
        raw[40] ^= 1
    elif where == "key id":
        raw[0] ^= 1
    else:
        text = TEXT.replace("12", "13")
    with pytest.raises(NoteError):
        key.open(text, bytes(raw))


def test_a_zero_time_or_a_plain_note_signature_is_not_a_cosignature() -> None:
    seed = Ed25519PrivateKey.generate()
    witness = SpecWitness("witness.example/w1", logs={}, seed=seed.private_bytes_raw())
    key = CosignerKey.parse(witness.vkey)
    zero = base64.b64decode(witness.cosign(TEXT, timestamp=0).split(" ")[2])
    with pytest.raises(NoteError, match="zero"):
        key.open(TEXT, zero)
    plain = key.key_id + seed.sign(TEXT.encode())  # an Ed25519 note signature, no time
    with pytest.raises(NoteError):
        key.open(TEXT, plain)


def test_the_fewest_witnesses_that_can_meet_a_quorum() -> None:
    text = f"""
        witness a {W["a"]}
        witness b {W["b"]}
        witness c {W["c"]}
        witness d {W["d"]}
        group x 2 a b c
        group y any d
        """
    assert parse_policy(text + "group q all x y\nquorum q\n").fewest() == 3
    assert parse_policy(text + "group q any x y\nquorum q\n").fewest() == 1
    assert parse_policy(text + "quorum x\n").fewest() == 2
    assert parse_policy("quorum none\n").fewest() == 0
