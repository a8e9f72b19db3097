"""The All-in-One network (PyTorch)."""
from .allinone import AllInOne, HeadOutput, build_model
from .config import ModelConfig, tiny_config

__all__ = ["AllInOne", "HeadOutput", "ModelConfig", "build_model", "tiny_config"]
