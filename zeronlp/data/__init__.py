"""Data: vocabularies, tokenization and the corpora shipped with zeronlp."""

from .bptt import BPTTBatcher  # noqa: F401
from .files import dataset_path, open_dataset  # noqa: F401
from .news import CATEGORIES, load_news, read_news_file
from .ptb import load_ptb, load_ptb_sentences  # noqa: F401
from .seq import CharVocabulary, load_seq
from .spiral import spiral
from .vocab import Vocabulary, preprocess, tokenize  # noqa: F401
