"""The verifiable voting protocol's cryptography (see docs/protocol.md)."""
