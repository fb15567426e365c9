"""What a query's SQL tells the scorer: ties in its order and the decimals it rounds to."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holobench.records import Label
from holobench.scoring.match import match
from holobench.scoring.shape import NO_SHAPE, query_shape

E, P, N = Label.EXACT, Label.PARTIAL, Label.NO


@pytest.mark.parametrize(
    ("sql", "keys"),
    [
        ("SELECT year, team_id, wins FROM teams ORDER BY wins DESC", (2,)),
        ("SELECT c, COUNT(*) FROM t GROUP BY c ORDER BY COUNT(*) DESC, c", (1, 0)),
        ("SELECT c, COUNT(*) AS n FROM t GROUP BY c ORDER BY n DESC", (1,)),
        ("SELECT a, b FROM t ORDER BY 2", (1,)),
        ("SELECT g, ROUND(SUM(x), 2) FROM t GROUP BY g ORDER BY SUM(x) DESC", (1,)),  # ties as shown
        ("SELECT name, ms / 60000 FROM tracks ORDER BY ms DESC", None),  # sorts on what is not shown
        ("SELECT a FROM t", None),
    ],
)
def test_order_keys(sql: str, keys: tuple[int, ...] | None) -> None:
    assert query_shape(sql).order_keys == keys


def test_rounding_and_unreadable_sql() -> None:
    assert query_shape("SELECT c, ROUND(AVG(x), 1), ROUND(y) FROM t").decimals == (None, 1, None)
    assert query_shape("SELECT FROM WHERE (") is NO_SHAPE
    assert query_shape(None) is NO_SHAPE
    assert query_shape("SELECT a FROM t EXCEPT SELECT a FROM u ORDER BY a") is NO_SHAPE


def test_tie_groups() -> None:
    shape = query_shape("SELECT y, t, w FROM x ORDER BY w DESC")
    assert shape.tie_groups([[1, "A", 9], [2, "B", 7], [3, "C", 7], [4, "D", 5]]) == [0, 1, 1, 3]
    assert NO_SHAPE.tie_groups([[1], [1]]) == [0, 1]


SQL = "SELECT year, team_id, wins FROM teams ORDER BY wins DESC"
GOLD = [[2018, "BOS", 108], [2017, "LAN", 104], [2019, "NYA", 104], [2019, "HOU", 100]]


def test_tied_rows_may_come_in_either_order() -> None:
    swapped = "1. 2018 BOS 108\n2. 2019 NYA 104\n3. 2017 LAN 104\n4. 2019 HOU 100"
    assert match(GOLD, swapped, categories=["Ranking"], sql=SQL).labels == [E] * 4
    # without the SQL the scorer cannot know they tie
    assert match(GOLD, swapped, categories=["Ranking"]).labels == [E, P, P, E]
    # a tie-break in the ORDER BY makes the order strict
    strict = "SELECT year, team_id, wins FROM teams ORDER BY wins DESC, team_id"
    assert match(GOLD, swapped, categories=["Ranking"], sql=strict).labels == [E, P, P, E]
    # rows that do not tie stay in place
    moved = "1. 2019 HOU 100\n2. 2018 BOS 108\n3. 2017 LAN 104\n4. 2019 NYA 104"
    assert match(GOLD, moved, categories=["Ranking"], sql=SQL).labels == [E, E, E, P]


@settings(max_examples=60, deadline=None)
@given(st.permutations([0, 1, 2]))
def test_any_order_within_a_tie_is_exact(order: list[int]) -> None:
    gold = [["A", 5], ["B", 5], ["C", 5], ["D", 1]]
    lines = [f"{gold[i][0]}: {gold[i][1]}" for i in order] + ["D: 1"]
    sql = "SELECT name, n FROM t ORDER BY n DESC"
    assert match(gold, "\n".join(lines), categories=["Ranking"], sql=sql).labels == [E] * 4


def test_a_value_coarser_than_the_query_rounds_is_partial() -> None:
    sql = "SELECT ROUND(AVG(seats), 1) FROM planes"
    assert match([[204.7]], "About 205 seats.", sql=sql).labels == [P]
    assert match([[204.7]], "204.7 seats", sql=sql).labels == [E]
    assert match([[204.7]], "About 205 seats.").labels == [E]  # no precision asked
    assert match([[204.7]], "About 210 seats.", sql=sql).labels == [N]
    assert match([[5.0]], "5 seats", sql=sql).labels == [E]  # the value itself
    # asked rounded: the last digit must be the rounded one (5.4359 cut to 5.43 is not 5.44)
    two = "SELECT ROUND(AVG(total), 2) FROM invoices"
    assert match([[5.44]], "$5.43", sql=two).labels == [P]
    assert match([[5.44]], "$5.43").labels == [E]  # no precision asked: one off in the last digit
    assert match([[5.44]], "$5.440", sql=two).labels == [E]
