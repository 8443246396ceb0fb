"""The PES sampler: stratified multi-stage designs, weights and sealed draws (see issue "PES sampler")."""
