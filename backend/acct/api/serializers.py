from rest_framework import serializers


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    roles = serializers.SerializerMethodField()
    is_service_account = serializers.BooleanField()

    def get_roles(self, user) -> list[str]:
        return sorted(user.roles)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`. Shown once; stored hashed.")
    expiry = serializers.DateTimeField()


class CsrfSerializer(serializers.Serializer):
    csrf_token = serializers.CharField(help_text="Send back as the X-CSRFToken header on unsafe requests.")
