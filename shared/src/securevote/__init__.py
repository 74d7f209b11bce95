"""secure-vote shared library: the platform modules every service uses and the voting protocol."""

__version__ = "0.1.0"
