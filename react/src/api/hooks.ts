import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { ApiError, api } from "./client";
import type { Me, Page, Patient, PatientDetail, Section, TimelineEvent } from "./types";

export const SECTIONS = ["problems", "medications", "prescriptions", "allergies", "encounters", "vitals"] as const;
export type SectionName = (typeof SECTIONS)[number];

export function useMe() {
  return useQuery({
    queryKey: ["me"],
    queryFn: () => api<Me>("/api/auth/me"),
    // not signed in: at once to sign-in; busy or down (429, 5xx, network): try again before giving up
    retry: (count, error) => !(error instanceof ApiError && [401, 403].includes(error.status)) && count < 3,
    staleTime: 60_000,
  });
}

export function useLogin() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (credentials: { username: string; password: string }) => {
      await api("/api/auth/csrf"); // sets the CSRF cookie the login POST must echo
      return api<Me>("/api/auth/login", { method: "POST", json: credentials });
    },
    onSuccess: (me) => client.setQueryData(["me"], me),
  });
}

export function useLogout() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => api("/api/auth/logout", { method: "POST" }),
    onSettled: () => client.clear(),
  });
}

export function usePatients(query: string, page: number) {
  const params = new URLSearchParams({ q: query, page: String(page) });
  return useQuery({
    queryKey: ["patients", query, page],
    queryFn: () => api<Page<Patient>>(`/api/patients?${params}`),
    placeholderData: (previous) => previous,
  });
}

export function usePatient(puuid: string) {
  return useQuery({ queryKey: ["patient", puuid], queryFn: () => api<PatientDetail>(`/api/patients/${puuid}`) });
}

export function usePatientSection(puuid: string, section: SectionName) {
  return useQuery({
    queryKey: ["patient", puuid, section],
    queryFn: () => api<Section>(`/api/patients/${puuid}/${section}`),
    retry: 1,
  });
}

export function useTimeline(puuid: string) {
  return useQuery({
    queryKey: ["patient", puuid, "timeline"],
    queryFn: () => api<Page<TimelineEvent>>(`/api/patients/${puuid}/timeline`),
  });
}
