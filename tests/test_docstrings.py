"""The examples in the library's docstrings run as written."""

import doctest

import pytest

import app.state
import sampling.config
import sampling.pipeline


@pytest.mark.parametrize("module", [sampling.config, sampling.pipeline, app.state])
def test_docstring_examples(module):
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0
