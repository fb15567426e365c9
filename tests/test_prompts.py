"""Prompt rendering: the fast path must give exactly what jinja gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holobench.errors import HoloBenchError
from holobench.prompts import PROMPTS, _frame, _template, render_prompt


@pytest.mark.parametrize("name", PROMPTS)
def test_every_answer_prompt_has_a_fast_path(name: str) -> None:
    assert _frame(name) is not None


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PROMPTS), st.text(max_size=300), st.text(max_size=80))
def test_fast_path_equals_jinja(name: str, context: str, question: str) -> None:
    assert render_prompt(name, context, question) == _template(name)[0].render(context=context, question=question)


def test_judge_templates_are_not_answer_prompts() -> None:
    with pytest.raises(HoloBenchError, match="unknown prompt"):
        render_prompt("judge_label", "c", "q")
