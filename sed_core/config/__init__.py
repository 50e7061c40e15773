"""Experiment configuration: frozen, validated, nested by stage; YAML becomes these objects once, at the edge."""
from sed_core.config.loading import apply_overrides, config_from_dict, load_config, parse_set_option
from sed_core.config.schema import ExperimentConfig

__all__ = ["ExperimentConfig", "apply_overrides", "config_from_dict", "load_config", "parse_set_option"]
