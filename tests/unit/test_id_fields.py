import re

import pytest

from hospital.web.id_fields import ID_TEXT, MAX_ID

ID = re.compile(rf"{ID_TEXT}")


@pytest.mark.parametrize(
    "number", [1, 9, 10, 99, 1_000_000_000, 1_999_999_999, 2_147_483_639, MAX_ID - 1, MAX_ID]
)
def test_the_id_pattern_takes_every_id(number: int) -> None:
    assert ID.fullmatch(str(number))


@pytest.mark.parametrize("text", ["0", "01", str(MAX_ID + 1), "2147483650", "9999999999", "-1"])
def test_the_id_pattern_refuses_what_no_id_is(text: str) -> None:
    assert not ID.fullmatch(text)
