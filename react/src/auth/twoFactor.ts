// Sign-in in two steps where the account needs a second factor (ADMIN, OPS, anyone who enrolled): the
// password step answers 202 with what comes next, and only the code (or the enrolment) signs in.
import { useMutation, useQueryClient } from "@tanstack/react-query";

import { api } from "../api/client";
import type { Me } from "../api/types";

export interface SecondStep {
  otp_required: boolean;
  enrolment_required: boolean;
}

export interface Enrolment {
  secret: string;
  otpauth_uri: string;
}

export interface Enrolled {
  recovery_codes: string[];
  user: Me;
}

export function isSecondStep(answer: Me | SecondStep): answer is SecondStep {
  return "otp_required" in answer;
}

export function usePasswordStep() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (credentials: { username: string; password: string }) => {
      await api("/api/auth/csrf"); // sets the CSRF cookie the login POST must echo
      return api<Me | SecondStep>("/api/auth/login", { method: "POST", json: credentials });
    },
    onSuccess: (answer) => {
      if (!isSecondStep(answer)) client.setQueryData(["me"], answer);
    },
  });
}

export function useCodeStep() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (code: string) => api<Me>("/api/auth/login/otp", { method: "POST", json: { code } }),
    onSuccess: (me) => client.setQueryData(["me"], me),
  });
}

export function useEnrolmentStart() {
  return useMutation({ mutationFn: () => api<Enrolment>("/api/auth/otp/enrolment", { method: "POST" }) });
}

/** The first code confirms the authenticator; the answer's recovery codes are shown once. The user is
 * remembered only when the page moves on, so the codes stay on screen until then. */
export function useEnrolmentConfirm() {
  return useMutation({
    mutationFn: (code: string) => api<Enrolled>("/api/auth/otp/enrolment/confirm", { method: "POST", json: { code } }),
  });
}
