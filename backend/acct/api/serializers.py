from rest_framework import serializers


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenRequestSerializer(CredentialsSerializer):
    otp = serializers.CharField(
        required=False, max_length=32, help_text="ADMIN, OPS and enrolled people: a code from the authenticator app."
    )


class CodeSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32, help_text="6 digits from the authenticator app, or one recovery code.")


class SecondStepSerializer(serializers.Serializer):
    """The password was right; the sign-in is not complete until the second step."""

    otp_required = serializers.BooleanField(help_text="Send a code to /api/auth/login/otp.")
    enrolment_required = serializers.BooleanField(
        help_text="No authenticator yet: /api/auth/otp/enrolment, then /api/auth/otp/enrolment/confirm."
    )


class EnrolmentSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Base32, for typing into the authenticator app. Shown once.")
    otpauth_uri = serializers.CharField(help_text="The same secret as an otpauth:// URI (for a QR code).")


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


class EnrolledSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(
        child=serializers.CharField(), help_text="Each works once in place of a code. Shown once: keep them safe."
    )
    user = MeSerializer()
