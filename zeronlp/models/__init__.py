"""Models built from ``zeronlp.nn``: TwoLayerNet, word2vec, language models, seq2seq, classifiers."""

from .classifier import MLPClassifier, NewsClassifier, SingleLayerNet, load_classifier
from .rnnlm import RNNLM, BetterRNNLM, build_lm, generate, next_words, perplexity  # noqa: F401
from .seq2seq import AttentionSeq2Seq, PeekySeq2Seq, Seq2Seq, build_seq2seq  # noqa: E402
from .text_classifier import TextClassifier
from .two_layer_net import TwoLayerNet
from .word2vec import CBOW, SimpleCBOW, SkipGram
