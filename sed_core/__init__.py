"""sed_core: semi-supervised sound event detection in plain PyTorch (no Ray, no MLflow)."""
