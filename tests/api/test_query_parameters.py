"""QueryParameters validates as a serializer per request would, without making one per call."""

import pytest
from django.http import QueryDict
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from events.api.views import FeedQuery
from healix.api.rest import QueryParameters

FEED_QUERIES = [
    "",
    "after=812.40&limit=5",
    "type=planCreated&planId=242b7766-ac9e-451f-9fe4-dd54489108c1",
    "since=2026-11-23T10:15:00Z&traceId=abc",
    "limit=3&limit=7",  # the last value counts, as for a serializer
    "after=nope",
    "after=1&limit=0",
    "type=planDeleted&planId=x&since=x&limit=501",
    "traceId=" + "x" * 65,
]


@pytest.mark.parametrize("query", FEED_QUERIES)
def test_the_same_values_and_errors_as_a_serializer(query):
    params = QueryDict(query)
    serializer = FeedQuery(data=params)
    expected_valid = serializer.is_valid()
    shared = QueryParameters(FeedQuery)
    for _ in range(2):  # and again with the same fields: nothing kept from the first call
        if expected_valid:
            assert shared.validated(params) == dict(serializer.validated_data)
        else:
            with pytest.raises(ValidationError) as refused:
                shared.validated(params)
            assert refused.value.detail == serializer.errors


def test_a_serializer_validating_parameters_together_is_refused():
    class Range(serializers.Serializer):
        low = serializers.IntegerField()
        high = serializers.IntegerField()

        def validate(self, attrs):
            if attrs["low"] > attrs["high"]:
                raise serializers.ValidationError("low above high")
            return attrs

    with pytest.raises(TypeError):
        QueryParameters(Range)


def test_a_field_with_a_source_is_returned_under_it_as_by_a_serializer():
    class Window(serializers.Serializer):
        after = serializers.IntegerField(required=False, source="start")

    params = QueryDict("after=7")
    expected = Window(data=params)
    assert expected.is_valid()
    assert (
        QueryParameters(Window).validated(params) == dict(expected.validated_data) == {"start": 7}
    )
