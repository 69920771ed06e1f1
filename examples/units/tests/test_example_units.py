"""The unit converter example: the schema the model sees, exact conversions, and errors
the model can act on."""

from __future__ import annotations

import json

import pytest
from assistant_cli_units import TOOLS, convert

from assistant_cli.testing import run_tool


async def converted(value: float, from_unit: str, to_unit: str) -> object:
    text = await run_tool(convert, {"value": value, "from_unit": from_unit,
                                    "to_unit": to_unit})
    return json.loads(text)


def test_the_model_sees_units_as_an_enum() -> None:
    assert convert.name == "units.convert"
    assert TOOLS == [convert]  # noqa: SIM300 (the entry point names this list)
    params = convert.parameters
    assert params["required"] == ["value", "from_unit", "to_unit"]
    assert params["properties"]["value"]["type"] == "number"
    assert {"km", "mi", "lb", "C", "F", "gal"} <= set(params["properties"]["to_unit"]["enum"])
    assert params["properties"]["to_unit"]["description"].startswith("the unit to express")


@pytest.mark.parametrize(("value", "src", "dst", "expected"), [
    (10, "km", "mi", 6.213712), (1, "mi", "ft", 5280), (12, "in", "cm", 30.48),
    (1, "lb", "g", 453.59237), (2, "cup", "ml", 473.176473), (1, "gal", "l", 3.785412),
    (100, "C", "F", 212), (-40, "F", "C", -40), (0, "K", "C", -273.15), (451, "F", "K", 505.927778),
])
async def test_conversions_are_exact(value: float, src: str, dst: str,
                                     expected: float) -> None:
    result = await converted(value, src, dst)
    assert result == {"value": pytest.approx(expected), "unit": dst, "text": (
        f"{value:g} {src} = {round(expected, 6):g} {dst}")}


async def test_other_dimensions_and_impossible_temperatures_are_errors() -> None:
    with pytest.raises(ValueError, match=r"cannot convert km \(length\) to kg \(mass\)"):
        await converted(1, "km", "kg")
    with pytest.raises(ValueError, match="below absolute zero"):
        await converted(-300, "C", "K")


async def test_units_outside_the_schema_are_refused_before_the_tool_runs() -> None:
    with pytest.raises(ValueError, match="'parsec' is not one of"):
        await converted(1, "km", "parsec")
    with pytest.raises(ValueError, match="value"):
        await run_tool(convert, '{"from_unit": "m", "to_unit": "ft"}')
