"""HTTP API of the review gate: `POST /projects/{id}/reviews/next` and `GET,POST /reviews/{id}`."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.orgs.api import OrgAPIView, validated
from apps.orgs.errors import ApiError
from apps.orgs.roles import EVERYONE, REVIEWERS
from apps.projects.selectors import access_project

from .models import Annotation, Review
from .reviews import review_decide, review_next
from .selectors import access_review
from .serializers import AnnotationSerializer

ReviewOut = inline_serializer("ReviewLease", {
    "id": serializers.IntegerField(), "status": serializers.CharField(), "decision": serializers.CharField(),
    "comment": serializers.CharField(), "expires_at": serializers.DateTimeField(),
    "annotation": AnnotationSerializer(),
    "task": inline_serializer("ReviewTask", {"id": serializers.IntegerField(), "data": serializers.JSONField(),
                                             "status": serializers.CharField()}),
    "others": AnnotationSerializer(many=True),
    "consensus": serializers.DictField(allow_null=True),
})


def review_body(review: Review) -> dict:
    annotation = Annotation.objects.select_related("author", "task").get(pk=review.annotation_id)
    task = annotation.task
    others = (Annotation.objects.select_related("author").filter(task=task).exclude(pk=annotation.pk)
              .exclude(status=Annotation.Status.REJECTED).order_by("id"))
    consensus = None
    if task.consensus_result is not None:
        consensus = {"result": task.consensus_result, "confidence": task.consensus_confidence,
                     "method": task.consensus_method}
    return {
        "id": review.pk, "status": review.status, "decision": review.decision, "comment": review.comment,
        "expires_at": review.expires_at, "annotation": AnnotationSerializer(annotation).data,
        "task": {"id": task.pk, "data": task.data, "status": task.status},
        "others": AnnotationSerializer(others, many=True).data, "consensus": consensus,
    }


class ReviewNextView(OrgAPIView):
    roles = {"POST": EVERYONE}  # checked after the project lookup

    @extend_schema(request=None, responses={200: ReviewOut, 204: None})
    def post(self, request, project_id):
        project = access_project(tenancy=self.tenancy, project_id=project_id)
        self.require(REVIEWERS)
        leased = review_next(project=project, reviewer=request.user)
        if leased is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(review_body(leased[0]))


class DecisionIn(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Review.Decision.choices)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    result = serializers.JSONField(required=False)


class ReviewView(OrgAPIView):
    roles = {"GET": REVIEWERS, "POST": REVIEWERS}

    @extend_schema(responses=ReviewOut)
    def get(self, request, review_id):
        return Response(review_body(access_review(tenancy=self.tenancy, review_id=review_id)))

    @extend_schema(request=DecisionIn, responses=ReviewOut)
    def post(self, request, review_id):
        review = access_review(tenancy=self.tenancy, review_id=review_id)
        data = validated(DecisionIn, request.data)
        if data["decision"] == Review.Decision.FIX and "result" not in data:
            raise ApiError("a fix carries the corrected result", details={"result": ["required for fix"]})
        if review.reviewer_id != request.user.pk:
            raise ApiError("only the reviewer holding this review may decide it", code="permission_denied",
                           status_code=403)
        review = review_decide(review=review, reviewer=request.user, decision=data["decision"],
                               comment=data["comment"], result=data.get("result"), request=request)
        return Response(review_body(review))
