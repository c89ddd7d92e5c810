"""Studies of the suite's parts on measured tables: which encoding helps which predictor."""
