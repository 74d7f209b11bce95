"""Key ceremony n=3, k=2: any 2 decrypt, 1 cannot; a bad share is detected and its sender named."""

from dataclasses import dataclass, replace
from itertools import combinations

import pysodium
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from securevote.crypto.elgamal import add_all, discrete_log, encrypt
from securevote.crypto.group import GENERATOR, Scalar, base_mul
from securevote.crypto.hashing import canonical_json
from securevote.crypto.threshold import (
    CeremonyError,
    CeremonyParameters,
    Dealing,
    EncryptedShare,
    KeyShare,
    TrusteeCommitment,
    TrusteeIdentity,
    combine_decryption_shares,
    compute_decryption_share,
    deal,
    generate_box_keypair,
    joint_public_key,
    public_share,
    receive_shares,
    resolve_complaint,
    verify_commitment,
    verify_decryption_share,
)

ELECTION = b"\x07" * 32


@dataclass
class Ceremony:
    params: CeremonyParameters
    boxes: dict[int, tuple[bytes, bytes]]
    dealings: dict[int, Dealing]

    @property
    def commitments(self) -> dict[int, TrusteeCommitment]:
        return {i: d.commitment for i, d in self.dealings.items()}

    def all_shares(self) -> list[EncryptedShare]:
        return [box for d in self.dealings.values() for box in d.shares]

    def receive(self, index: int, shares: list[EncryptedShare] | None = None):  # type: ignore[no-untyped-def]
        public, secret = self.boxes[index]
        return receive_shares(
            params=self.params,
            index=index,
            box_public_key=public,
            box_secret_key=secret,
            commitments=self.commitments,
            shares=self.all_shares() if shares is None else shares,
        )


def run_ceremony(n: int = 3, k: int = 2) -> Ceremony:
    boxes = {i: generate_box_keypair() for i in range(1, n + 1)}
    params = CeremonyParameters(
        manifest_hash=b"\x01" * 32,
        threshold=k,
        trustees=tuple(TrusteeIdentity(i, f"trustee-{i}", boxes[i][0]) for i in boxes),
    )
    dealings = {i: deal(params=params, index=i) for i in boxes}
    return Ceremony(params, boxes, dealings)


@pytest.fixture(scope="module")
def ceremony() -> Ceremony:
    return run_ceremony()


@pytest.fixture(scope="module")
def key_shares(ceremony: Ceremony) -> dict[int, KeyShare]:
    result = {}
    for index in ceremony.boxes:
        share, complaints = ceremony.receive(index)
        assert complaints == []
        assert share is not None
        result[index] = share
    return result


def test_commitments_verify(ceremony: Ceremony) -> None:
    for commitment in ceremony.commitments.values():
        assert verify_commitment(params=ceremony.params, commitment=commitment)
        assert TrusteeCommitment.from_json(commitment.to_json()) == commitment
    first = ceremony.commitments[1]
    moved = replace(first, index=2)
    assert not verify_commitment(params=ceremony.params, commitment=moved)
    short = replace(first, coefficients=first.coefficients[:1])
    assert not verify_commitment(params=ceremony.params, commitment=short)


def test_key_shares_match_public_shares(
    ceremony: Ceremony, key_shares: dict[int, KeyShare]
) -> None:
    commitments = list(ceremony.commitments.values())
    for index, share in key_shares.items():
        assert share.public == public_share(commitments=commitments, index=index)


def test_any_two_decrypt_one_cannot(ceremony: Ceremony, key_shares: dict[int, KeyShare]) -> None:
    key = joint_public_key(ceremony.commitments.values())
    commitments = list(ceremony.commitments.values())
    tally = add_all(encrypt(message=m, public_key=key, nonce=Scalar.random()) for m in (1, 0, 1, 1))
    shares = {}
    for index, key_share in key_shares.items():
        share = compute_decryption_share(
            key_share=key_share, ciphertext=tally, election_hash=ELECTION, label="t"
        )
        assert verify_decryption_share(
            share=share,
            ciphertext=tally,
            public_share=public_share(commitments=commitments, index=index),
            election_hash=ELECTION,
            label="t",
        )
        assert not verify_decryption_share(
            share=share,
            ciphertext=tally,
            public_share=public_share(commitments=commitments, index=index),
            election_hash=ELECTION,
            label="other",
        )
        shares[index] = share.share
    for pair in combinations(shares, 2):
        subset = {i: shares[i] for i in pair}
        result = combine_decryption_shares(ciphertext=tally, shares=subset, threshold=2)
        assert discrete_log(result) == 3
    for single in shares:
        with pytest.raises(CeremonyError):
            combine_decryption_shares(
                ciphertext=tally, shares={single: shares[single]}, threshold=2
            )
        # Even pretending the threshold were 1, one share alone does not decrypt.
        alone = combine_decryption_shares(
            ciphertext=tally, shares={single: shares[single]}, threshold=1
        )
        assert alone != base_mul(Scalar(3))


def test_wrong_decryption_share_rejected(
    ceremony: Ceremony, key_shares: dict[int, KeyShare]
) -> None:
    key = joint_public_key(ceremony.commitments.values())
    ciphertext = encrypt(message=1, public_key=key, nonce=Scalar(5))
    share = compute_decryption_share(
        key_share=key_shares[1], ciphertext=ciphertext, election_hash=ELECTION, label="t"
    )
    commitments = list(ceremony.commitments.values())
    forged = replace(share, share=share.share + GENERATOR)
    assert not verify_decryption_share(
        share=forged,
        ciphertext=ciphertext,
        public_share=public_share(commitments=commitments, index=1),
        election_hash=ELECTION,
        label="t",
    )
    assert not verify_decryption_share(
        share=share,
        ciphertext=ciphertext,
        public_share=public_share(commitments=commitments, index=2),
        election_hash=ELECTION,
        label="t",
    )


def test_bad_share_detected_and_sender_named() -> None:
    ceremony = run_ceremony()
    cheater = 3
    honest = ceremony.dealings[cheater]
    # Trustee 3 sends trustee 1 a share that does not match its commitments.
    bad_plain = canonical_json(
        {
            "ceremony": ceremony.params.ceremony_hash.hex(),
            "recipient": 1,
            "sender": 3,
            "share": Scalar(12345).hex(),
        }
    )
    bad_box = EncryptedShare(3, 1, bytes(pysodium.crypto_box_seal(bad_plain, ceremony.boxes[1][0])))
    shares = [s for s in honest.shares if s.recipient != 1] + [bad_box]
    ceremony.dealings[cheater] = replace(honest, shares=tuple(shares))
    key_share, complaints = ceremony.receive(1)
    assert key_share is None
    assert [(c.accuser, c.accused) for c in complaints] == [(1, 3)]
    assert "12345" not in complaints[0].reason
    # Trustee 2 got a good share from 3 and is unaffected.
    assert ceremony.receive(2)[1] == []
    # Resolution: revealing the wrong share convicts; revealing the right one clears.
    commitment = ceremony.commitments[cheater]
    assert not resolve_complaint(
        complaint=complaints[0], commitment=commitment, revealed_share=Scalar(12345)
    )
    polynomial = honest.polynomial
    right = Scalar(sum(c.value * 1**t for t, c in enumerate(polynomial)))
    assert resolve_complaint(complaint=complaints[0], commitment=commitment, revealed_share=right)


def test_missing_and_garbled_shares_named() -> None:
    ceremony = run_ceremony()
    shares = [s for s in ceremony.all_shares() if not (s.sender == 2 and s.recipient == 1)]
    _, complaints = ceremony.receive(1, shares)
    assert [(c.accuser, c.accused) for c in complaints] == [(1, 2)]
    garbled = [
        replace(s, sealed_box=s.sealed_box[:-1] + bytes([s.sealed_box[-1] ^ 1]))
        if s.sender == 3 and s.recipient == 1
        else s
        for s in ceremony.all_shares()
    ]
    _, complaints = ceremony.receive(1, garbled)
    assert [(c.accuser, c.accused) for c in complaints] == [(1, 3)]


def test_parameters_validated() -> None:
    with pytest.raises(CeremonyError):
        CeremonyParameters(
            manifest_hash=bytes(32),
            threshold=3,
            trustees=(TrusteeIdentity(1, "a", bytes(32)), TrusteeIdentity(2, "b", bytes(32))),
        )
    with pytest.raises(CeremonyError):
        CeremonyParameters(
            manifest_hash=bytes(32), threshold=1, trustees=(TrusteeIdentity(2, "a", bytes(32)),)
        )


@settings(max_examples=8, deadline=None)
@given(
    st.integers(min_value=1, max_value=5).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(min_value=1, max_value=n))
    ),
    st.data(),
)
def test_any_k_of_n_decrypt(shape: tuple[int, int], data: st.DataObject) -> None:
    n, k = shape
    ceremony = run_ceremony(n, k)
    key_shares = {}
    for index in range(1, n + 1):
        share, complaints = ceremony.receive(index)
        assert share is not None and not complaints
        key_shares[index] = share
    key = joint_public_key(ceremony.commitments.values())
    ciphertext = encrypt(message=7, public_key=key, nonce=Scalar.random())
    chosen = data.draw(
        st.lists(st.sampled_from(range(1, n + 1)), min_size=k, max_size=n, unique=True)
    )
    shares = {
        j: compute_decryption_share(
            key_share=key_shares[j], ciphertext=ciphertext, election_hash=ELECTION, label="t"
        ).share
        for j in chosen
    }
    point = combine_decryption_shares(ciphertext=ciphertext, shares=shares, threshold=k)
    assert discrete_log(point) == 7


def test_messages_round_trip_json(ceremony: Ceremony, key_shares: dict[int, KeyShare]) -> None:
    for box in ceremony.all_shares():
        assert EncryptedShare.from_json(box.to_json()) == box
    for share in key_shares.values():
        assert KeyShare.from_json(share.to_json()) == share
    assert "secret" in key_shares[1].to_json()
    assert str(key_shares[1].secret.value) not in repr(key_shares[1])
