from veil.models.registry import InputSpec, ModelSpec, get_model, list_models, register, sha256_file

__all__ = ["InputSpec", "ModelSpec", "get_model", "list_models", "register", "sha256_file"]
