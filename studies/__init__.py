"""Studies: definitions, the Ray Tune launcher, MLflow tracking and the command line. The only Ray/MLflow writer."""
