"""The decoder's historical address; it lives in :mod:`pafpose.codec.decode`."""

from .codec.decode import DecodeParams, decode

__all__ = ["DecodeParams", "decode"]
