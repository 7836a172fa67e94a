"""Data sets: scikit-learn digits, audio-visual digits (FSDD + digits), user WAV/IDX/NPZ files."""
