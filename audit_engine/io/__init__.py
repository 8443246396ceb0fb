"""Reading census, PES and reference files into the store, with validation and quarantine."""
