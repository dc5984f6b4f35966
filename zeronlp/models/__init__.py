"""Models built from ``zeronlp.nn``: TwoLayerNet, word2vec, language models, seq2seq, classifiers."""

from .classifier import LoadedClassifier, MLPClassifier, SingleLayerNet, load_classifier
from .hred import HRED, VHRED, build_dialogue_model
from .rnnlm import RNNLM, BetterRNNLM, build_lm, generate, load_lm, next_words, perplexity  # noqa: F401
from .seq2seq import AttentionSeq2Seq, PeekySeq2Seq, Seq2Seq, build_seq2seq, exact_match_accuracy
from .seq2seq_io import load_seq2seq
from .text_classifier import TextClassifier
from .transformer import (  # noqa: E402
    TransformerLM,
    TransformerSeq2Seq,
    build_transformer_lm,
    build_transformer_seq2seq,
)
from .two_layer_net import TwoLayerNet
from .vae import KLAnnealing, SentenceVAE, build_sentence_vae
from .word2vec import CBOW, SimpleCBOW, SkipGram
