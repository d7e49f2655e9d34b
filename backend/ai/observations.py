"""Which of an AI result's metrics become FHIR Observations, derived from what the ai-server reported."""

from typing import Any

UNIT_SUFFIXES = {"_ml": "mL", "_mm": "mm", "_mm3": "mm3", "_percent": "%", "_seconds": "s"}
MAX_METRIC_NAME = 48  # "<result pk>:<name>" is the FHIR mapping's entity id (64 characters)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _with_unit(name: str, value: float) -> Any:
    unit = next((unit for suffix, unit in UNIT_SUFFIXES.items() if name.endswith(suffix)), "")
    return {"value": value, "unit": unit} if unit else value


def fhir_metrics(raw: dict[str, Any]) -> dict[str, Any]:
    """The metrics that become FHIR Observations: {name: number} or {name: {"value", "unit"}}.

    Taken from the ai-server's metrics: a top-level number (its unit guessed from the name's suffix,
    "_ml" -> mL), a {"value": number, "unit"} object, or an object of numbers, one level deep
    ({"volume_ml": {"enhancing": 1.2}} -> "volume_ml.enhancing" in mL). Strings, lists and deeper
    structures are shown by the UI only, not sent to FHIR."""
    flat: dict[str, Any] = {}
    for name, value in raw.items():
        if _number(value):
            flat[name] = _with_unit(name, value)
        elif isinstance(value, dict) and "value" in value:
            if _number(value["value"]):
                flat[name] = {"value": value["value"], "unit": str(value.get("unit") or "")}
        elif isinstance(value, dict):
            for part, inner in value.items():
                if _number(inner):
                    flat[f"{name}.{part}"] = _with_unit(name, inner)
    return {name: value for name, value in flat.items() if len(name) <= MAX_METRIC_NAME}
