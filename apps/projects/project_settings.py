"""Project settings (DESIGN §4): defaults, deep-merging PATCHes, and validation."""

import copy
from decimal import Decimal, InvalidOperation

DEFAULTS = {
    "overlap": 1,
    "max_overlap": 1,
    "consensus_target": 0.8,
    "gold_rate": 0.0,
    "review_policy": {"mode": "none", "fraction": 0.1},
    "lease_seconds": 3600,
    "show_predictions": True,
    "gold_feedback": False,
    # Gold is served more often to new or suspect annotators: `multiplier` × gold_rate until they have seen
    # `min_golds` golds, or while the lower bound of their gold accuracy's Wilson interval is under
    # `accuracy_threshold`. A multiplier of 1 turns it off.
    "gold_adaptive": {"multiplier": 3, "min_golds": 10, "accuracy_threshold": 0.7},
    "gold_pass_score": 0.5,  # a gold answer scoring at least this counts as correct
    "iou_threshold": 0.5,  # boxes and polygons match at this IoU (scoring, agreement, consensus)
    "consensus_method": "auto",  # majority | dawid_skene | auto (the one that scores best on held-out gold)
    "flag_prediction_below": 0.3,  # a prediction scored under this flags its task (null: never)
    "daily_cap": None,  # at most this many submitted annotations per annotator and UTC day (null: no cap)
    "auto_accept_confidence": None,
    "access": {"pools": [], "skill_filter": ""},
    # Money as decimal strings; per_hour pays server-measured time (lease to submit), at most
    # max_seconds_per_task a task.
    "pay": {"per_submitted": "0.00", "per_accepted": "0.00", "per_hour": "0.00", "currency": "USD",
            "max_seconds_per_task": 900},
    "active_learning": {"strategy": "none"},
    "prelabel": None,
}
REVIEW_MODES = ("none", "all", "sample")
CONSENSUS_METHODS = ("auto", "majority", "dawid_skene")
MAX_LEASE_SECONDS = 7 * 24 * 3600


class SettingsError(ValueError):
    def __init__(self, errors: dict):
        super().__init__("invalid settings")
        self.errors = errors


def merge(base: dict, patch: dict) -> dict:
    """Deep merge: keys not in `patch` are kept (API.md: settings PATCHes merge deeply)."""
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _number(value, *, integer=False):
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if integer and not isinstance(value, int):
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return value


def _decimal_string(value):
    if not isinstance(value, str):
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def validate(settings: dict) -> dict:
    """Complete `settings` with the defaults and check every value; SettingsError names each bad key."""
    if not isinstance(settings, dict):
        raise SettingsError({"settings": ["must be an object"]})
    unknown = sorted(set(settings) - set(DEFAULTS))
    errors: dict[str, list[str]] = {key: ["unknown setting"] for key in unknown}
    s = merge(DEFAULTS, settings)

    overlap = _number(s["overlap"], integer=True)
    if overlap is None or not 1 <= overlap <= 1000:
        errors["overlap"] = ["an integer from 1 to 1000"]
    max_overlap = _number(s["max_overlap"], integer=True)
    if "max_overlap" not in settings and overlap is not None:
        s["max_overlap"] = max_overlap = max(overlap, DEFAULTS["max_overlap"])
    if max_overlap is None or (overlap is not None and max_overlap < overlap) or (max_overlap or 0) > 1000:
        errors["max_overlap"] = ["an integer, at least overlap"]
    target = _number(s["consensus_target"])
    if target is None or not 0 <= target <= 1:
        errors["consensus_target"] = ["a number from 0 to 1"]
    gold_rate = _number(s["gold_rate"])
    if gold_rate is None or not 0 <= gold_rate < 1:
        errors["gold_rate"] = ["a number, at least 0 and below 1"]
    policy = s["review_policy"]
    if not isinstance(policy, dict) or set(policy) - {"mode", "fraction"}:
        errors["review_policy"] = ['{"mode": "none"|"all"|"sample", "fraction": 0..1}']
    else:
        fraction = _number(policy.get("fraction"))
        if policy.get("mode") not in REVIEW_MODES:
            errors["review_policy"] = [f"mode must be one of {', '.join(REVIEW_MODES)}"]
        elif fraction is None or not 0 < fraction <= 1:
            errors["review_policy"] = ["fraction must be above 0 and at most 1"]
    lease = _number(s["lease_seconds"], integer=True)
    if lease is None or not 0 < lease <= MAX_LEASE_SECONDS:
        errors["lease_seconds"] = [f"an integer of seconds above 0, at most {MAX_LEASE_SECONDS}"]
    for flag in ("show_predictions", "gold_feedback"):
        if not isinstance(s[flag], bool):
            errors[flag] = ["true or false"]
    adaptive = s["gold_adaptive"]
    if not isinstance(adaptive, dict) or set(adaptive) - set(DEFAULTS["gold_adaptive"]):
        errors["gold_adaptive"] = ['{"multiplier": ≥ 1, "min_golds": ≥ 0, "accuracy_threshold": 0..1}']
    else:
        multiplier, min_golds = _number(adaptive.get("multiplier")), _number(adaptive.get("min_golds"), integer=True)
        threshold = _number(adaptive.get("accuracy_threshold"))
        if multiplier is None or multiplier < 1 or min_golds is None or min_golds < 0 or threshold is None \
                or not 0 <= threshold <= 1:
            errors["gold_adaptive"] = ["multiplier ≥ 1, min_golds an integer ≥ 0, accuracy_threshold from 0 to 1"]
    for key in ("gold_pass_score", "iou_threshold"):
        value = _number(s[key])
        if value is None or not 0 < value <= 1:
            errors[key] = ["a number above 0 and at most 1"]
    below = s["flag_prediction_below"]
    if below is not None and (_number(below) is None or not 0 <= below <= 1):
        errors["flag_prediction_below"] = ["null (off) or a number from 0 to 1"]
    if s["consensus_method"] not in CONSENSUS_METHODS:
        errors["consensus_method"] = [f"one of {', '.join(CONSENSUS_METHODS)}"]
    auto = s["auto_accept_confidence"]
    if auto is not None and ((_number(auto) is None) or not 0 < auto <= 1):
        errors["auto_accept_confidence"] = ["null (off) or a number above 0 and at most 1"]
    access = s["access"]
    if not isinstance(access, dict) or set(access) - {"pools", "skill_filter"}:
        errors["access"] = ['{"pools": [ids], "skill_filter": "<expression>"}']
    elif not isinstance(access.get("pools"), list) or not all(
        isinstance(p, int) and not isinstance(p, bool) for p in access["pools"]
    ) or not isinstance(access.get("skill_filter"), str):
        errors["access"] = ["pools is a list of pool ids, skill_filter a string"]
    pay = s["pay"]
    if not isinstance(pay, dict) or set(pay) - set(DEFAULTS["pay"]):
        errors["pay"] = ["per_submitted, per_accepted, per_hour (decimal strings), currency, max_seconds_per_task"]
    else:
        for key in ("per_submitted", "per_accepted", "per_hour"):
            if _decimal_string(pay.get(key)) is None:
                errors.setdefault("pay", []).append(f"{key} must be a non-negative decimal string like \"0.05\"")
        cap = _number(pay.get("max_seconds_per_task"), integer=True)
        if cap is None or not 1 <= cap <= MAX_LEASE_SECONDS:
            errors.setdefault("pay", []).append("max_seconds_per_task is an integer of seconds, at least 1")
        currency = pay.get("currency")
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha() and currency.isupper()):
            errors.setdefault("pay", []).append("currency is a three-letter ISO 4217 code such as USD")
    if not isinstance(s["active_learning"], dict) or not isinstance(s["active_learning"].get("strategy"), str):
        errors["active_learning"] = ['{"strategy": "<name>"}']
    if s["prelabel"] is not None and not isinstance(s["prelabel"], dict):
        errors["prelabel"] = ["null or an object naming a model backend"]
    cap = s["daily_cap"]
    if cap is not None and (_number(cap, integer=True) is None or cap < 1):
        errors["daily_cap"] = ["null (no cap) or an integer of at least 1"]
    for check in _checks:
        for key, messages in (check(s) or {}).items():
            errors.setdefault(key, []).extend(messages)
    if errors:
        raise SettingsError(errors)
    return s


# Checks that apps to the right add (DESIGN §3): e.g. workforce parses `access.skill_filter`. A check takes the
# merged settings and returns {key: [messages]} for what it finds wrong.
_checks: list = []


def register_check(check) -> None:
    if check not in _checks:
        _checks.append(check)
