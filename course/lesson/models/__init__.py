"""The illustrative models behind the modules' explorers: pure functions, no widgets."""
