"""/api/v1/tokens/: list, create (by session, token, or username and password) and revoke."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from .errors import Conflict
from .models import ApiToken
from .permissions import ApiView, ListView
from .throttling import TokenThrottle, WriteThrottle
from .tokens import TooManyTokens, create_token, revoke_token, tokens_of


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at"]


class NewTokenSerializer(TokenSerializer):
    key = serializers.CharField(help_text="The token itself: shown this once, never again.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "key"]


class TokenRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="What the token is for.")
    username = serializers.CharField(
        required=False, max_length=150, help_text="Without a session or token: your login."
    )
    password = serializers.CharField(
        required=False, max_length=1024, style={"input_type": "password"}
    )


class TokenList(ListView):
    serializer_class = TokenSerializer
    throttle_classes = [TokenThrottle, WriteThrottle]

    def get_permissions(self):
        # Creating a token with a username and password is how a script starts.
        return [AllowAny()] if self.request.method == "POST" else super().get_permissions()

    def get_queryset(self):
        return tokens_of(self.request.user)

    @extend_schema(summary="Your live API tokens (keys are never shown again)")
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(TokenSerializer(page, many=True).data)

    @extend_schema(
        summary="Create an API token",
        description="Authenticated by your session or a token, or by `username` and "
        "`password` in the body. The key is in this response only. Throttled.",
        request=TokenRequestSerializer,
        responses={201: NewTokenSerializer},
        auth=[{"tokenAuth": []}, {"cookieAuth": []}, {}],
    )
    def post(self, request):
        body = TokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = request.user if request.user.is_authenticated else None
        if user is None:
            data = body.validated_data
            if not data.get("username") or not data.get("password"):
                raise exceptions.NotAuthenticated("Send username and password, or authenticate.")
            user = authenticate(request, username=data["username"], password=data["password"])
            if user is None:
                raise exceptions.AuthenticationFailed("Wrong username or password.")
        try:
            token, key = create_token(user=user, name=body.validated_data["name"])
        except TooManyTokens as exc:
            raise Conflict(str(exc), code="too_many_tokens") from None
        data = {**TokenSerializer(token).data, "key": key}
        return Response(data, status=status.HTTP_201_CREATED)


class TokenDetail(ApiView):
    serializer_class = TokenSerializer

    @extend_schema(summary="Revoke one of your tokens", responses={204: None})
    def delete(self, request, pk: int):
        token = tokens_of(request.user).filter(pk=pk).first()
        if token is None:
            raise exceptions.NotFound()
        revoke_token(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)
