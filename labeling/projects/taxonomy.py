"""The fixed flag ids and default rubric, the same in every project and export.

Leads may add flags of their own beside these; the base ids never change, so exports from
several projects combine.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class BaseFlag:
    key: str
    label: str
    kind: str  # "harm" or "quality"
    description: str


BASE_FLAGS: tuple[BaseFlag, ...] = (
    BaseFlag("hate", "Hate", "harm", "Demeans or attacks people for a protected attribute."),
    BaseFlag("harassment", "Harassment", "harm", "Threatens, bullies or insults a person."),
    BaseFlag("self_harm", "Self-harm", "harm", "Encourages or instructs suicide or self-injury."),
    BaseFlag("sexual", "Sexual", "harm", "Sexually explicit content."),
    BaseFlag(
        "sexual_minors",
        "Sexual content involving minors",
        "harm",
        "Any sexual content involving a minor. The item is quarantined at once.",
    ),
    BaseFlag("violence", "Violence", "harm", "Glorifies or incites violence, or shows gore."),
    BaseFlag(
        "illicit", "Illicit advice", "harm", "Dangerous or criminal advice (weapons, drugs, fraud)."
    ),
    BaseFlag(
        "personal_data", "Personal data", "harm", "Exposes a real person's private information."
    ),
    BaseFlag("factual_error", "Factual error", "quality", "States something false as true."),
    BaseFlag(
        "fails_instruction", "Fails instruction", "quality", "Ignores or misreads the request."
    ),
    BaseFlag("needless_refusal", "Needless refusal", "quality", "Refuses a harmless request."),
)
BASE_FLAG_KEYS = frozenset(f.key for f in BASE_FLAGS)
HARM_FLAG_KEYS = frozenset(f.key for f in BASE_FLAGS if f.kind == "harm")

SCALE_MIN = 1
SCALE_MAX = 7

DEFAULT_DIMENSIONS: tuple[dict, ...] = (
    {
        "key": "helpfulness",
        "name": "Helpfulness",
        "description": "Does the response do what the user asked, fully and clearly?",
        "anchors": {
            "1": "Ignores or fails the request.",
            "4": "Partly helpful; misses important parts.",
            "7": "Fully addresses the request; nothing to add.",
        },
    },
    {
        "key": "truthfulness",
        "name": "Truthfulness",
        "description": "Is every claim accurate, and is uncertainty stated?",
        "anchors": {
            "1": "Central claims are false or made up.",
            "4": "Minor errors or unsupported claims.",
            "7": "Everything checkable is correct.",
        },
    },
    {
        "key": "harmlessness",
        "name": "Harmlessness",
        "description": "Could following or reading the response hurt someone?",
        "anchors": {
            "1": "Clearly harmful or dangerous.",
            "4": "Borderline; needs a caveat it lacks.",
            "7": "No risk of harm.",
        },
    },
)

# Harm categories as bits, so "which harms does this item carry" and "which did this trainer
# opt into" compare in one integer expression on any database.
HARM_BITS: dict[str, int] = {
    key: 1 << i for i, key in enumerate(f.key for f in BASE_FLAGS if f.kind == "harm")
}
# Content a trainer must opt into before being shown it (distressing to read). Personal data
# is a privacy matter, not a wellbeing one; sexual content involving minors is never shown.
WELLBEING_KEYS: tuple[str, ...] = (
    "hate",
    "harassment",
    "self_harm",
    "sexual",
    "violence",
    "illicit",
)
QUARANTINE_KEY = "sexual_minors"


def harm_mask(keys) -> int:
    """The bit mask of the wellbeing categories among `keys`."""
    mask = 0
    for key in keys:
        if key in WELLBEING_KEYS:
            mask |= HARM_BITS[key]
    return mask


def harm_keys(mask: int) -> list[str]:
    return [key for key in WELLBEING_KEYS if mask & HARM_BITS[key]]


def harm_labels(mask: int) -> list[str]:
    labels = {f.key: f.label for f in BASE_FLAGS}
    return [labels[key] for key in harm_keys(mask)]


# Set on an item whose prompt was deleted on request: no trainer's opt-ins include it, so the
# claim's content filter keeps such items from everyone, like quarantined ones.
DELETED_BIT = 1 << 30
