"""Generators of test files. Pillow writes HEIF (HEIC) through pillow-heif's plugin."""

import pillow_heif

pillow_heif.register_heif_opener()
