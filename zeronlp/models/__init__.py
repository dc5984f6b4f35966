"""Models built from ``zeronlp.nn``: TwoLayerNet, word2vec, language models, seq2seq, classifiers."""

from .classifier import LoadedClassifier, MLPClassifier, SingleLayerNet, load_classifier
from .rnnlm import RNNLM, BetterRNNLM, build_lm, generate, load_lm, next_words, perplexity  # noqa: F401
from .seq2seq import AttentionSeq2Seq, PeekySeq2Seq, Seq2Seq, build_seq2seq, exact_match_accuracy
from .seq2seq_io import load_seq2seq
from .text_classifier import TextClassifier
from .two_layer_net import TwoLayerNet
from .word2vec import CBOW, SimpleCBOW, SkipGram
