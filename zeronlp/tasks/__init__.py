"""Each experiment as a library function: it trains or evaluates, writes its run directory and
returns a result dict (``model``, ``history``, ``final``, ``config``), callable from Python and
notebooks; the command line (:mod:`zeronlp.cli`) is a thin layer over these."""

from . import binary_add, classify, lm, seq2seq, spiral, vectors, word2vec
