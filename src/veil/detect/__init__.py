from veil.detect.base import Detector, create_detector, detector_names, register_detector

__all__ = ["Detector", "create_detector", "detector_names", "register_detector"]
