"""The text facade exports an exact list of names; the data modules' docstring examples run."""

import doctest
import importlib

import pytest

import emberfit.core as core
import emberfit.text as text


def test_facade_all_is_exact_and_resolves():
    assert len(text.__all__) == len(set(text.__all__))
    assert set(core.__all__) <= set(text.__all__)
    for name in text.__all__:
        assert hasattr(text, name), name
    ns: dict = {}
    exec("from emberfit.text import *", ns)
    assert set(ns) - {"__builtins__"} == set(text.__all__)
    for name in (
        "TextList",
        "TextDataBunch",
        "TextLMDataBunch",
        "TextClasDataBunch",
        "Tokenizer",
        "Vocab",
        "BOS",
    ):
        assert name in text.__all__


# The text data side, module by module (tokenize_pool has no example: it is exercised by test_tokenizer).
DATA_MODULES = [
    "rules", "spacy_tokenizer", "token_store", "tokenizer", "vocab", "settings", "raw_texts", "processor",
    "item_lists", "lm_labels", "databunch", "loaders", "corpus_files", "corpus",
]  # fmt: skip


@pytest.mark.parametrize("module", DATA_MODULES)
def test_docstring_examples_run(module):
    mod = importlib.import_module(f"emberfit.text.{module}")
    globs = {n: getattr(text, n) for n in text.__all__}
    globs.update(vars(mod))
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(mod, mod.__name__, globs=globs):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0
