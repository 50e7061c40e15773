"""Mean-teacher training: ``fit(config, reporter)`` trains one run; studies supply the reporter."""
