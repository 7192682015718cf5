"""Real, openly licensed data sets for training and validating the perception models (issue 23)."""
