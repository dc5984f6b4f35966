"""`python -m zeronlp ...` is the `zeronlp` command."""

import sys

from .cli import main

sys.exit(main())
