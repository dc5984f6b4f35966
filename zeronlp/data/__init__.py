"""Data: vocabularies, tokenization, the corpora shipped with zeronlp and readers of the user's own files."""

from .bptt import BPTTBatcher  # noqa: F401
from .files import dataset_path, open_dataset  # noqa: F401
from .news import CATEGORIES, load_news, read_news_file
from .ptb import load_ptb, load_ptb_sentences  # noqa: F401
from .seq import CharVocabulary, load_seq
from .spiral import spiral
from .textfiles import (
    TOKENIZERS,
    LabelSet,
    LazyTokenizer,
    TextCorpus,
    get_tokenizer,
    load_text_corpus,
    read_labeled_tsv,
    read_lines,
    read_parallel_tsv,
    register_tokenizer,
)
from .vocab import Vocabulary, preprocess, tokenize  # noqa: F401
