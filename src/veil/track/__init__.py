"""Temporal safety for video: associate detections into tracks and carry each face across the frames
where the detector missed it, forwards and backwards."""

from veil.track.associate import Associator, Track
from veil.track.carry import CarryPolicy, TemporalCarry

__all__ = ["Associator", "CarryPolicy", "TemporalCarry", "Track"]
