"""Data tables shipped with the normalisers (see README.md in this folder for sources and licences)."""
