from veil.detect.base import Detector, create_detector, register_detector

__all__ = ["Detector", "create_detector", "register_detector"]
