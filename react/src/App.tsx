import { Center, Loader, Text } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { useTranslation } from "react-i18next";
import { Navigate, Route, Routes, useNavigate } from "react-router";

import { SESSION_EXPIRED_EVENT } from "./api/client";
import { useMe } from "./api/hooks";
import { can } from "./auth/roles";
import { Layout } from "./components/Layout";
import { LoginPage } from "./pages/LoginPage";
import { PatientPage } from "./pages/PatientPage";
import { PatientsPage } from "./pages/PatientsPage";

function SignedIn() {
  const { t } = useTranslation();
  const me = useMe();
  if (me.isPending) {
    return (
      <Center h="100vh">
        <Loader />
      </Center>
    );
  }
  if (me.isError) return <Navigate to="/login" replace />;
  const patientsAllowed = can.seePatients(me.data.roles ?? []);
  const noAccess = <Text>{t("patients.noAccess")}</Text>;
  return (
    <Routes>
      <Route element={<Layout me={me.data} />}>
        <Route path="/patients" element={patientsAllowed ? <PatientsPage /> : noAccess} />
        <Route path="/patients/:puuid" element={patientsAllowed ? <PatientPage /> : noAccess} />
        <Route path="*" element={<Navigate to="/patients" replace />} />
      </Route>
    </Routes>
  );
}

export function App() {
  const navigate = useNavigate();
  const client = useQueryClient();
  useEffect(() => {
    const expired = () => {
      client.clear();
      navigate("/login?expired=1");
    };
    window.addEventListener(SESSION_EXPIRED_EVENT, expired);
    return () => window.removeEventListener(SESSION_EXPIRED_EVENT, expired);
  }, [client, navigate]);

  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="*" element={<SignedIn />} />
    </Routes>
  );
}
