from django.urls import path

from . import views

urlpatterns = [
    path("csrf", views.CsrfView.as_view(), name="auth-csrf"),
    path("login", views.LoginView.as_view(), name="auth-login"),
    path("login/otp", views.LoginOtpView.as_view(), name="auth-login-otp"),
    path("otp/enrolment", views.OtpEnrolmentView.as_view(), name="auth-otp-enrolment"),
    path("otp/enrolment/confirm", views.OtpEnrolmentConfirmView.as_view(), name="auth-otp-enrolment-confirm"),
    path("logout", views.LogoutView.as_view(), name="auth-logout"),
    path("me", views.MeView.as_view(), name="auth-me"),
    path("token", views.TokenView.as_view(), name="auth-token"),
]
