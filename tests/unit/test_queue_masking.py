"""Public screens show masked names only (invariant 8)."""

from __future__ import annotations

import pytest

from hospital.patients.identity import mask_name


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张", "张"),
        ("张明", "张*"),
        ("张三明", "张*明"),
        ("欧阳明华", "欧阳*华"),
        ("John Smith", "J*** S."),
        ("Li", "L*"),
    ],
)
def test_names_are_masked_for_boards(name, masked):
    assert mask_name(name) == masked
    if len(name) > 1:
        assert mask_name(name) != name
