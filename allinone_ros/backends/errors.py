"""Errors raised by the inference backends."""


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run here; the message says what is missing and what to use instead."""


class ArtifactError(RuntimeError):
    """A cached or given engine/ONNX artifact does not match the model or is damaged; the message says why."""
