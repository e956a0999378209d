"""Input and output shapes of the pay API: money travels as decimal strings, members by membership id."""

import re
from decimal import Decimal, InvalidOperation

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import BonusRule, LedgerEntry

MAX_ID = 2**63 - 1
CURRENCY = re.compile(r"^[A-Z]{3}$")
MONEY_TEXT = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,4})?$")


@extend_schema_field({"type": "string", "format": "decimal", "pattern": r"^[0-9]{1,10}(\.[0-9]{1,4})?$",
                     "example": "5.00"})
class MoneyField(serializers.Field):
    """A positive decimal string with at most 4 places ("5.00"); numbers are refused, floats never enter."""

    default_error_messages = {
        "invalid": 'a positive decimal string with at most 4 decimal places, like "5.00"',
        "positive": "must be above 0",
    }

    def to_internal_value(self, data):
        if not isinstance(data, str) or not MONEY_TEXT.match(data.strip()):
            self.fail("invalid")
        try:
            amount = Decimal(data.strip())
        except InvalidOperation:
            self.fail("invalid")
        if amount <= 0:
            self.fail("positive")
        return amount

    def to_representation(self, value):
        return str(Decimal(value).quantize(Decimal("0.0001")))


class CurrencyField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "ISO 4217 code, e.g. USD")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not CURRENCY.match(value):
            raise serializers.ValidationError("a three-letter ISO 4217 code such as USD")
        return value


class LedgerEntrySerializer(serializers.ModelSerializer):
    """An entry; `annotator` is the member id (context `members`: user id → membership id)."""

    annotator = serializers.SerializerMethodField()
    annotator_email = serializers.EmailField(source="annotator.email", read_only=True)
    amount = serializers.DecimalField(max_digits=14, decimal_places=4, coerce_to_string=True, read_only=True)
    reversed_by = serializers.IntegerField(read_only=True, allow_null=True,
                                           help_text="the id of the entry that reverses this one")
    created_by = serializers.EmailField(source="created_by.email", read_only=True, allow_null=True, default=None)

    class Meta:
        model = LedgerEntry
        fields = ["id", "annotator", "annotator_email", "amount", "currency", "kind", "annotation", "project",
                  "reverses", "reversed_by", "note", "created_by", "created_at"]
        read_only_fields = fields

    def get_annotator(self, entry) -> int | None:
        return self.context.get("members", {}).get(entry.annotator_id)


class OwnEntrySerializer(LedgerEntrySerializer):
    """/me/earnings: the caller's own entries, without who made them."""

    class Meta(LedgerEntrySerializer.Meta):
        fields = ["id", "amount", "currency", "kind", "annotation", "project", "reverses", "reversed_by", "note",
                  "created_at"]
        read_only_fields = fields


class LedgerFilterSerializer(serializers.Serializer):
    annotator = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="member id")
    project = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    since = serializers.DateTimeField(required=False, help_text="from this moment (inclusive)")
    until = serializers.DateTimeField(required=False, help_text="to this moment (exclusive)")
    kind = serializers.ChoiceField(choices=LedgerEntry.Kind.choices, required=False)

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": ["must be after since"]})
        return attrs


class StatementFilterSerializer(LedgerFilterSerializer):
    kind = None


class StatementSerializer(serializers.Serializer):
    annotator = serializers.IntegerField(allow_null=True, help_text="member id")
    email = serializers.EmailField()
    currency = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    submitted = serializers.CharField()
    accepted = serializers.CharField()
    hourly = serializers.CharField()
    bonus = serializers.CharField()
    reversal = serializers.CharField()
    net = serializers.CharField()
    entries = serializers.IntegerField()


class ReverseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="why; kept as the reversal's note")


class BonusCreateSerializer(serializers.Serializer):
    annotator = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="member id")
    amount = MoneyField()
    currency = CurrencyField(required=False, help_text="default: the project's pay currency, else USD")
    project = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class BonusRuleSerializer(serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id", min_value=1, max_value=MAX_ID)
    amount = MoneyField()
    threshold = serializers.FloatField(min_value=0, max_value=1, help_text="the metric's minimum, 0..1")
    min_samples = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False)
    period_days = serializers.IntegerField(min_value=1, max_value=366, required=False)

    class Meta:
        model = BonusRule
        fields = ["id", "project", "metric", "threshold", "min_samples", "amount", "period_days", "active",
                  "created_at"]
        read_only_fields = ["id", "created_at"]


class EarningsSerializer(serializers.Serializer):
    totals = serializers.DictField(help_text="{this_month, last_month, all_time}: {currency: net decimal string}")
    results = OwnEntrySerializer(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
