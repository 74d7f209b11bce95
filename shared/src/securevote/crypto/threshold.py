"""k-of-n trustees: Pedersen DKG, Feldman commitments, threshold decryption (protocol.md §4, §8).

Ceremony, for trustees numbered 1..n with threshold k:

1. Each trustee has an X25519 key pair (`generate_box_keypair`) published in the ceremony
   parameters, whose hash (`CeremonyParameters.ceremony_hash`) binds every message.
2. Trustee i picks a random polynomial f_i of degree k-1 and publishes `TrusteeCommitment`:
   A_ij = a_ij·G for each coefficient and a Schnorr proof of knowledge of a_i0.
3. Trustee i sends f_i(j) to each trustee j in a libsodium sealed box (`EncryptedShare`).
4. Trustee j opens its boxes, checks each share against the sender's commitments
   (f_i(j)·G == Σ_t A_it·j^t) and emits a `Complaint` naming every sender whose share is
   missing, unreadable or wrong.  An accused trustee may answer by revealing the share
   (`resolve_complaint`); if it does not verify, the accused is disqualified.
5. Joint key K = Σ_i A_i0; trustee j's key share s_j = Σ_i f_i(j), whose public
   verification key S_j = s_j·G anyone computes from the commitments (`public_share`).

Decryption: trustee j publishes D_j = s_j·pad with a Chaum-Pedersen proof that
log_G S_j = log_pad D_j; any k valid shares combine by Lagrange interpolation at 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pysodium

from securevote.crypto.elgamal import Ciphertext
from securevote.crypto.group import (
    GENERATOR,
    IDENTITY,
    ORDER,
    GroupError,
    Point,
    Scalar,
    base_mul,
)
from securevote.crypto.hashing import canonical_json, hash256
from securevote.crypto.proofs import (
    DleqProof,
    SchnorrProof,
    prove_dleq,
    prove_schnorr,
    verify_dleq,
    verify_schnorr,
)

CEREMONY_TAG = "securevote/v1/ceremony"
SHARE_CONTEXT = "securevote/v1/dkg/share"
POK_CONTEXT = "securevote/v1/dkg/pok"
DECRYPTION_CONTEXT = "securevote/v1/decryption-share"


class CeremonyError(ValueError):
    """The ceremony's parameters or messages are inconsistent."""


def generate_box_keypair() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair (public, secret) for receiving shares in sealed boxes."""
    public, secret = pysodium.crypto_box_keypair()
    return bytes(public), bytes(secret)


@dataclass(frozen=True, slots=True)
class TrusteeIdentity:
    index: int
    name: str
    box_public_key: bytes

    def to_json(self) -> dict[str, object]:
        return {"index": self.index, "name": self.name, "box_public_key": self.box_public_key.hex()}

    @classmethod
    def from_json(cls, document: Mapping[str, object]) -> TrusteeIdentity:
        index, name, key = document["index"], document["name"], document["box_public_key"]
        if not isinstance(index, int) or not isinstance(name, str) or not isinstance(key, str):
            raise CeremonyError("malformed trustee identity")
        if len(key) != 64 or bytes.fromhex(key).hex() != key:
            raise CeremonyError("box_public_key is 64 lowercase hex digits")
        return cls(index, name, bytes.fromhex(key))


@dataclass(frozen=True, slots=True)
class CeremonyParameters:
    """Who takes part, the threshold, and what election (manifest hash) the key is for."""

    manifest_hash: bytes
    threshold: int
    trustees: tuple[TrusteeIdentity, ...]

    def __post_init__(self) -> None:
        indices = [t.index for t in self.trustees]
        if indices != list(range(1, len(indices) + 1)):
            raise CeremonyError("trustees are numbered 1..n in order")
        if not 1 <= self.threshold <= len(indices):
            raise CeremonyError("need 1 <= threshold <= number of trustees")
        if any(len(t.box_public_key) != 32 for t in self.trustees):
            raise CeremonyError("box public keys are 32 bytes")

    @property
    def size(self) -> int:
        return len(self.trustees)

    @property
    def ceremony_hash(self) -> bytes:
        parts: list[bytes | str | int] = [self.manifest_hash, self.threshold, self.size]
        for trustee in self.trustees:
            parts += [trustee.index, trustee.name, trustee.box_public_key]
        return hash256(CEREMONY_TAG, *parts)

    def trustee(self, index: int) -> TrusteeIdentity:
        if not 1 <= index <= self.size:
            raise CeremonyError(f"no trustee {index}")
        return self.trustees[index - 1]


@dataclass(frozen=True, slots=True)
class TrusteeCommitment:
    """Trustee `index`'s Feldman commitments A_i0..A_i,k-1 and proof of knowledge of a_i0."""

    index: int
    coefficients: tuple[Point, ...]
    proof: SchnorrProof

    def to_json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "coefficients": [point.hex() for point in self.coefficients],
            "proof": self.proof.to_json(),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, object]) -> TrusteeCommitment:
        index, coefficients = document["index"], document["coefficients"]
        if not isinstance(index, int) or not isinstance(coefficients, list):
            raise CeremonyError("malformed trustee commitment")
        return cls(
            index,
            tuple(Point.from_hex(c) for c in coefficients),
            SchnorrProof.from_json(document["proof"]),
        )


@dataclass(frozen=True, slots=True)
class EncryptedShare:
    sender: int
    recipient: int
    sealed_box: bytes

    def to_json(self) -> dict[str, object]:
        return {
            "sender": self.sender,
            "recipient": self.recipient,
            "sealed_box": self.sealed_box.hex(),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, object]) -> EncryptedShare:
        sender, recipient, box = document["sender"], document["recipient"], document["sealed_box"]
        if not isinstance(sender, int) or not isinstance(recipient, int):
            raise CeremonyError("malformed encrypted share")
        if not isinstance(box, str):
            raise CeremonyError("malformed encrypted share")
        return cls(sender, recipient, bytes.fromhex(box))


@dataclass(frozen=True, slots=True)
class Complaint:
    """`accuser` reports that `accused` sent no valid share; `reason` never contains secrets."""

    accuser: int
    accused: int
    reason: str


@dataclass(frozen=True, slots=True)
class Dealing:
    """What trustee `index` produces in step 2-3; `polynomial` is secret and stays with it."""

    index: int
    polynomial: tuple[Scalar, ...]
    commitment: TrusteeCommitment
    shares: tuple[EncryptedShare, ...]


@dataclass(frozen=True, slots=True)
class KeyShare:
    """Trustee `index`'s secret share s_j of the joint key (kept by the trustee only)."""

    index: int
    secret: Scalar

    @property
    def public(self) -> Point:
        return base_mul(self.secret)

    def to_json(self) -> dict[str, object]:
        """For the trustee's own encrypted storage only: this is secret material."""
        return {"index": self.index, "secret": self.secret.hex()}

    @classmethod
    def from_json(cls, document: Mapping[str, object]) -> KeyShare:
        index = document["index"]
        if not isinstance(index, int) or isinstance(index, bool):
            raise CeremonyError("malformed key share")
        return cls(index, Scalar.from_hex(document["secret"]))


def _evaluate(polynomial: Sequence[Scalar], at: int) -> Scalar:
    result = 0
    for coefficient in reversed(polynomial):
        result = (result * at + coefficient.value) % ORDER
    return Scalar(result)


def commitment_at(coefficients: Sequence[Point], at: int) -> Point:
    """Σ_t A_t · at^t: the public image f(at)·G of a committed polynomial."""
    total = IDENTITY
    power = 1
    for point in coefficients:
        total = total + point * Scalar(power)
        power = power * at % ORDER
    return total


def _share_plaintext(ceremony_hash: bytes, sender: int, recipient: int, share: Scalar) -> bytes:
    document = {
        "ceremony": ceremony_hash.hex(),
        "sender": sender,
        "recipient": recipient,
        "share": share.hex(),
    }
    return canonical_json(document)


def deal(
    *, params: CeremonyParameters, index: int, polynomial: Sequence[Scalar] | None = None
) -> Dealing:
    """Steps 2-3 for trustee `index`: polynomial, commitments with proof, sealed shares.

    `polynomial` (k coefficients, the first non-zero) is drawn at random unless given; giving it
    is for test vectors only.
    """
    params.trustee(index)
    if polynomial is None:
        polynomial = tuple(Scalar.random() for _ in range(params.threshold))
    polynomial = tuple(polynomial)
    if len(polynomial) != params.threshold or polynomial[0].is_zero():
        raise CeremonyError("the polynomial has k coefficients and a non-zero constant term")
    coefficients = tuple(base_mul(a) for a in polynomial)
    ceremony_hash = params.ceremony_hash
    proof = prove_schnorr(
        secret=polynomial[0],
        public=coefficients[0],
        context=(POK_CONTEXT, ceremony_hash, index),
    )
    shares = tuple(
        EncryptedShare(
            sender=index,
            recipient=trustee.index,
            sealed_box=bytes(
                pysodium.crypto_box_seal(
                    _share_plaintext(
                        ceremony_hash, index, trustee.index, _evaluate(polynomial, trustee.index)
                    ),
                    trustee.box_public_key,
                )
            ),
        )
        for trustee in params.trustees
    )
    return Dealing(index, polynomial, TrusteeCommitment(index, coefficients, proof), shares)


def verify_commitment(*, params: CeremonyParameters, commitment: TrusteeCommitment) -> bool:
    """Right number of coefficients, none the identity, valid proof for the constant term."""
    if not 1 <= commitment.index <= params.size:
        return False
    if len(commitment.coefficients) != params.threshold:
        return False
    if any(point.is_identity() for point in commitment.coefficients):
        return False
    return verify_schnorr(
        public=commitment.coefficients[0],
        proof=commitment.proof,
        context=(POK_CONTEXT, params.ceremony_hash, commitment.index),
    )


def _open_share(
    *, params: CeremonyParameters, box: EncryptedShare, public_key: bytes, secret_key: bytes
) -> Scalar | None:
    try:
        plaintext = pysodium.crypto_box_seal_open(box.sealed_box, public_key, secret_key)
        document = json.loads(plaintext)
        expected = {
            "ceremony": params.ceremony_hash.hex(),
            "sender": box.sender,
            "recipient": box.recipient,
        }
        if {key: document.get(key) for key in expected} != expected:
            return None
        return Scalar.from_hex(document["share"])
    except (ValueError, KeyError, TypeError, GroupError):
        return None


def receive_shares(
    *,
    params: CeremonyParameters,
    index: int,
    box_public_key: bytes,
    box_secret_key: bytes,
    commitments: Mapping[int, TrusteeCommitment],
    shares: Iterable[EncryptedShare],
) -> tuple[KeyShare | None, list[Complaint]]:
    """Step 4 for trustee `index`: the key share, or complaints naming each faulty sender."""
    received: dict[int, Scalar] = {}
    complaints: list[Complaint] = []
    for box in shares:
        if box.recipient != index or box.sender in received:
            continue
        share = _open_share(
            params=params, box=box, public_key=box_public_key, secret_key=box_secret_key
        )
        commitment = commitments.get(box.sender)
        if share is None:
            complaints.append(Complaint(index, box.sender, "share could not be opened"))
        elif commitment is None or not verify_commitment(params=params, commitment=commitment):
            complaints.append(Complaint(index, box.sender, "commitment missing or invalid"))
        elif base_mul(share) != commitment_at(commitment.coefficients, index):
            complaints.append(Complaint(index, box.sender, "share does not match commitments"))
        else:
            received[box.sender] = share
    accused = {c.accused for c in complaints}
    for trustee in params.trustees:
        if trustee.index not in received and trustee.index not in accused:
            complaints.append(Complaint(index, trustee.index, "no share received"))
    if complaints:
        return None, complaints
    total = 0
    for share in received.values():
        total += share.value
    return KeyShare(index, Scalar(total)), []


def resolve_complaint(
    *, complaint: Complaint, commitment: TrusteeCommitment, revealed_share: Scalar
) -> bool:
    """True if the accused's publicly revealed share f_accused(accuser) matches its commitments
    (the complaint is answered); False means the accused is disqualified."""
    return base_mul(revealed_share) == commitment_at(commitment.coefficients, complaint.accuser)


def joint_public_key(commitments: Iterable[TrusteeCommitment]) -> Point:
    """K = Σ_i A_i0."""
    total = IDENTITY
    for commitment in commitments:
        total = total + commitment.coefficients[0]
    return total


def public_share(*, commitments: Iterable[TrusteeCommitment], index: int) -> Point:
    """S_j = s_j·G = Σ_i Σ_t A_it · j^t, trustee j's public verification key."""
    total = IDENTITY
    for commitment in commitments:
        total = total + commitment_at(commitment.coefficients, index)
    return total


# --- Decryption ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecryptionShare:
    """D_j = s_j·pad for one ciphertext, with proof log_G S_j == log_pad D_j."""

    trustee: int
    share: Point
    proof: DleqProof

    def to_json(self) -> dict[str, object]:
        return {"trustee": self.trustee, "share": self.share.hex(), "proof": self.proof.to_json()}

    @classmethod
    def from_json(cls, document: Mapping[str, object]) -> DecryptionShare:
        trustee = document["trustee"]
        if not isinstance(trustee, int) or isinstance(trustee, bool):
            raise CeremonyError("malformed decryption share")
        return cls(
            trustee,
            Point.from_hex(document["share"]),
            DleqProof.from_json(document["proof"]),
        )


def decryption_context(
    election_hash: bytes, label: str, ciphertext: Ciphertext
) -> tuple[str, bytes, str, Point]:
    """The whole ciphertext is bound, not only the pad that the relation involves."""
    return (DECRYPTION_CONTEXT, election_hash, label, ciphertext.data)


def compute_decryption_share(
    *, key_share: KeyShare, ciphertext: Ciphertext, election_hash: bytes, label: str
) -> DecryptionShare:
    """Trustee's share for `ciphertext`; `label` names it (e.g. "tally/q1/o2")."""
    partial = ciphertext.pad * key_share.secret
    proof = prove_dleq(
        secret=key_share.secret,
        g1=GENERATOR,
        h1=key_share.public,
        g2=ciphertext.pad,
        h2=partial,
        context=decryption_context(election_hash, label, ciphertext),
    )
    return DecryptionShare(key_share.index, partial, proof)


def verify_decryption_share(
    *,
    share: DecryptionShare,
    ciphertext: Ciphertext,
    public_share: Point,
    election_hash: bytes,
    label: str,
) -> bool:
    """Check the share's proof.  For an identity pad (an empty tally) the share must be the
    identity, which it is for every key, so no proof is needed."""
    if ciphertext.pad.is_identity():
        return share.share.is_identity()
    return verify_dleq(
        g1=GENERATOR,
        h1=public_share,
        g2=ciphertext.pad,
        h2=share.share,
        proof=share.proof,
        context=decryption_context(election_hash, label, ciphertext),
    )


def lagrange_coefficient(index: int, indices: Sequence[int]) -> Scalar:
    """λ_index = Π_{m ≠ index} m / (m - index) (mod l): interpolation at 0."""
    numerator, denominator = 1, 1
    for other in indices:
        if other != index:
            numerator = numerator * other % ORDER
            denominator = denominator * (other - index) % ORDER
    return Scalar(numerator * pow(denominator, -1, ORDER))


def combine_decryption_shares(
    *, ciphertext: Ciphertext, shares: Mapping[int, Point], threshold: int
) -> Point:
    """m·G = data - Σ λ_j·D_j over any `threshold` shares (keyed by trustee index).

    The shares must already be verified.  Exactly `threshold` of them are used (the lowest
    indices), since any k determine the same result.
    """
    if len(shares) < threshold:
        raise CeremonyError(f"need {threshold} decryption shares, have {len(shares)}")
    indices = sorted(shares)[:threshold]
    if any(i < 1 for i in indices):
        raise CeremonyError("trustee indices start at 1")
    combined = IDENTITY
    for index in indices:
        combined = combined + shares[index] * lagrange_coefficient(index, indices)
    return ciphertext.data - combined
