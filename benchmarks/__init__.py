"""Side-by-side timings of zeronlp and its references (PyTorch CPU, book-style NumPy)."""
