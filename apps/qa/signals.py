"""Events of the qa app (DESIGN §3); workforce receives them."""

from django.dispatch import Signal

# firing: RuleFiring; rule: QualityRule
quality_rule_fired = Signal()
