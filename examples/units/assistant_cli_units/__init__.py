"""`units.convert`: exact unit conversion the model may call instead of doing arithmetic.

Language models are unreliable at arithmetic; a tool is not. The units are an enum in the
schema, so the model can only ask for units this tool knows, and a conversion between
dimensions (metres to kilograms) comes back as an error the model can explain.
"""

from __future__ import annotations

from typing import Literal

from assistant_cli.plugin import API_VERSION, tool

Unit = Literal["mm", "cm", "m", "km", "in", "ft", "yd", "mi",
               "mg", "g", "kg", "t", "oz", "lb",
               "ml", "l", "tsp", "tbsp", "cup", "gal",
               "C", "F", "K"]

# Each linear unit as (dimension, size in the dimension's base unit: m, kg, l).
LINEAR: dict[str, tuple[str, float]] = {
    "mm": ("length", 0.001), "cm": ("length", 0.01), "m": ("length", 1.0),
    "km": ("length", 1000.0), "in": ("length", 0.0254), "ft": ("length", 0.3048),
    "yd": ("length", 0.9144), "mi": ("length", 1609.344),
    "mg": ("mass", 1e-6), "g": ("mass", 0.001), "kg": ("mass", 1.0), "t": ("mass", 1000.0),
    "oz": ("mass", 0.028349523125), "lb": ("mass", 0.45359237),
    "ml": ("volume", 0.001), "l": ("volume", 1.0), "tsp": ("volume", 0.00492892159375),
    "tbsp": ("volume", 0.01478676478125), "cup": ("volume", 0.2365882365),
    "gal": ("volume", 3.785411784),  # US units
}
# Temperatures are affine, not linear: through kelvin.
TO_KELVIN = {"C": lambda v: v + 273.15, "F": lambda v: (v - 32) * 5 / 9 + 273.15,
             "K": lambda v: v}
FROM_KELVIN = {"C": lambda k: k - 273.15, "F": lambda k: (k - 273.15) * 9 / 5 + 32,
               "K": lambda k: k}


def dimension(unit: str) -> str:
    return "temperature" if unit in TO_KELVIN else LINEAR[unit][0]


def convert_value(value: float, from_unit: str, to_unit: str) -> float:
    """`value` in `from_unit` expressed in `to_unit`; ValueError across dimensions."""
    have, want = dimension(from_unit), dimension(to_unit)
    if have != want:
        raise ValueError(f"cannot convert {from_unit} ({have}) to {to_unit} ({want})")
    if have == "temperature":
        kelvin = TO_KELVIN[from_unit](value)
        if kelvin < 0:
            raise ValueError(f"{value:g} {from_unit} is below absolute zero")
        return float(FROM_KELVIN[to_unit](kelvin))
    return value * LINEAR[from_unit][1] / LINEAR[to_unit][1]


@tool(name="units.convert", api_version=API_VERSION)
async def convert(value: float, from_unit: Unit, to_unit: Unit) -> dict[str, object]:
    """Convert a quantity between units of length, mass, volume (US) or temperature.

    Args:
        value: the quantity, in `from_unit`.
        from_unit: the unit `value` is in.
        to_unit: the unit to express it in (same dimension as `from_unit`).
    """
    result = round(convert_value(value, from_unit, to_unit), 6)
    return {"value": result, "unit": to_unit,
            "text": f"{value:g} {from_unit} = {result:g} {to_unit}"}


TOOLS = [convert]
